// Mosquitto as the cloud's broker: the cloud's credential table is pushed into Mosquitto's
// password file (the test harness writes it with mosquitto_passwd and reloads with SIGHUP). A
// revoked or disabled credential gets a random password nobody knows, so its next CONNECT is
// refused. Limits against the aedes broker: no topic ACLs, no "client ID in use" rule for shared
// accounts, and live sessions are not cut.
import { randomBytes } from "node:crypto";
import type { MosquittoBroker } from "../broker/mosquitto.js";
import type { CloudState } from "./state.js";

export class MosquittoSync {
  readonly #mosquitto: MosquittoBroker;
  readonly #state: CloudState;
  #chain: Promise<void> = Promise.resolve();

  constructor(mosquitto: MosquittoBroker, state: CloudState) {
    this.#mosquitto = mosquitto;
    this.#state = state;
  }

  /** Push these usernames' current state to Mosquitto (queued: reloads never overlap). */
  sync(usernames: readonly string[]): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      for (const name of usernames) {
        const cred = this.#state.credential(name);
        const shared = this.#state.data.shared.find((s) => s.username === name);
        const password = shared?.password ?? (cred && cred.enabled ? cred.password : randomBytes(24).toString("base64url"));
        await this.#mosquitto.addUser(name, password);
      }
    });
    return this.#chain;
  }

  settled(): Promise<void> {
    return this.#chain;
  }
}
