// The thin driver that wires an MqttSession to a TLS socket and the I/O timers, and reconnects
// with backoff. All protocol decisions live in session.ts; this file only moves bytes and time.
//
// No exception leaves a socket or timer callback (on the board it would abort XS and restart the
// chip): whatever throws in one — a write to a socket that just died, a listener, the I/O itself —
// is a "fault": the connection is dropped and dialled again after the usual back-off, and a
// "fault" event says where. The public methods throw only MqttInputError (bad topic, payload,
// client ID, credentials: checked before anything is queued) and OutboxFull, to their caller.
import type { Io, Socket, SocketError, TimerId } from "../io/io.js";
import type { Secret } from "../secrets/secret.js";
import { backoffDelay, DEFAULT_BACKOFF, randomUnit, type BackoffPolicy } from "./backoff.js";
import {
  MqttSession, refusalIsTransient, type ConnackReason, type OfflineReason, type SessionAction, type SessionOptions,
} from "./session.js";

export interface TlsEndpoint {
  readonly host: string;
  readonly port: number;
  readonly ca?: string;
  readonly serverName?: string;
  readonly clientCertificate?: string;
  readonly clientKey?: Secret;
}

export interface ClientOptions extends SessionOptions {
  readonly endpoint: TlsEndpoint;
  readonly backoff?: BackoffPolicy;
}

export type ClientEvent =
  | { readonly type: "dialing"; readonly attempt: number; readonly host: string; readonly port: number }
  /** TCP connected and the TLS handshake verified the broker: CONNECT goes out now. */
  | { readonly type: "transport-up" }
  | { readonly type: "online"; readonly sessionPresent: boolean; readonly resent: number; readonly discarded?: number }
  | { readonly type: "offline"; readonly reason: OfflineReason; readonly detail?: string; readonly socketError?: SocketError }
  /** The broker refused the CONNECT. Transient refusals are retried; others stop the client. */
  | { readonly type: "refused"; readonly reason: ConnackReason; readonly willRetry: boolean }
  | { readonly type: "backoff"; readonly delayMs: number; readonly attempt: number }
  | { readonly type: "message"; readonly topic: string; readonly payload: Uint8Array; readonly qos: number; readonly retain: boolean }
  | { readonly type: "delivered"; readonly messageId: number; readonly topic: string }
  | { readonly type: "subscribed"; readonly messageId: number; readonly granted: readonly number[] }
  /** Something threw inside a callback (`where`); `code` is the error's code, if it has one. The connection is redialled. */
  | { readonly type: "fault"; readonly where: string; readonly code: string };

export class MqttClient {
  readonly #io: Io;
  readonly #options: ClientOptions;
  readonly #session: MqttSession;
  readonly #listeners: ((event: ClientEvent) => void)[] = [];
  #socket: Socket | undefined;
  #timer: TimerId | undefined;
  #retryTimer: TimerId | undefined;
  #attempt = 0;
  #running = false;

  /** Throws MqttInputError if the client ID, credentials or will cannot be encoded. */
  constructor(io: Io, options: ClientOptions) {
    this.#io = io;
    this.#options = options;
    this.#session = new MqttSession(options);
  }

  get state() { return this.#session.state; }
  get outboxSize(): number { return this.#session.outboxSize; }

  on(listener: (event: ClientEvent) => void): void {
    this.#listeners.push(listener);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#guard("dial", () => this.#dial());
  }

  /** Say goodbye to the broker (no will is published) and stop reconnecting. */
  stop(): void {
    this.#running = false;
    this.#guard("stop", () => {
      this.#clearRetry();
      this.#apply(this.#session.disconnect(this.#io.clock.now()));
      this.#closeSocket();
    });
  }

  publish(topic: string, payload: Uint8Array, options: { qos?: 0 | 1; retain?: boolean } = {}): number {
    const { messageId, actions } = this.#session.publish(topic, payload, options.qos ?? 1, options.retain ?? false, this.#now());
    this.#guard("publish", () => this.#apply(actions));
    return messageId;
  }

  /** Stop resending a QoS 1 message the broker never acknowledges (a late PUBACK is then ignored). */
  discard(messageId: number): boolean {
    return this.#session.discard(messageId);
  }

  subscribe(topic: string, qos: 0 | 1 = 1): void {
    const actions = this.#session.subscribe(topic, qos, this.#now());
    this.#guard("subscribe", () => this.#apply(actions));
  }

  #dial(): void {
    const e = this.#options.endpoint;
    this.#emit({ type: "dialing", attempt: this.#attempt, host: e.host, port: e.port });
    this.#session.dial(this.#io.clock.now());
    let socket: Socket | undefined;
    const isCurrent = () => socket !== undefined && socket === this.#socket;
    socket = this.#io.network.tls({
      host: e.host,
      port: e.port,
      ...(e.ca !== undefined ? { ca: e.ca } : {}),
      ...(e.serverName !== undefined ? { serverName: e.serverName } : {}),
      ...(e.clientCertificate !== undefined ? { clientCertificate: e.clientCertificate } : {}),
      ...(e.clientKey !== undefined ? { clientKey: e.clientKey } : {}),
      onWritable: () => this.#guard("onWritable", () => {
        if (!isCurrent() || this.#session.state !== "dialing") return; // later calls: send buffer drained
        this.#emit({ type: "transport-up" });
        this.#apply(this.#session.transportUp(this.#io.clock.now()));
      }),
      onReadable: () => this.#guard("onReadable", () => {
        if (!isCurrent()) return;
        const bytes = socket!.read();
        if (bytes) this.#apply(this.#session.receive(bytes, this.#io.clock.now()));
      }),
      onError: (error) => this.#guard("onError", () => {
        if (!isCurrent()) return;
        this.#socket = undefined;
        this.#apply(this.#session.transportDown(`${error.kind}: ${error.message}`), error);
      }),
    });
    this.#socket = socket;
    this.#schedule();
  }

  #apply(actions: readonly SessionAction[], socketError?: SocketError): void {
    for (const action of actions) {
      switch (action.type) {
        case "send":
          this.#socket?.write(action.bytes);
          break;
        case "close":
          this.#closeSocket();
          break;
        case "online":
          this.#attempt = 0;
          this.#emit(action);
          break;
        case "offline":
          this.#emit(socketError ? { ...action, socketError } : action);
          this.#afterOffline(action.reason);
          break;
        case "refused": {
          const willRetry = this.#running && refusalIsTransient(action.reason);
          if (!willRetry) this.#running = false;
          this.#emit({ type: "refused", reason: action.reason, willRetry });
          break;
        }
        default:
          this.#emit(action);
      }
    }
    this.#schedule();
  }

  #afterOffline(reason: OfflineReason): void {
    if (!this.#running || reason === "stopped") return;
    const delayMs = backoffDelay(this.#options.backoff ?? DEFAULT_BACKOFF, this.#attempt, randomUnit(this.#io.random));
    this.#emit({ type: "backoff", delayMs, attempt: this.#attempt });
    this.#attempt++;
    this.#armRetry(delayMs);
  }

  #armRetry(delayMs: number): void {
    this.#clearRetry();
    this.#retryTimer = this.#io.timers.set(() => this.#guard("retry timer", () => {
      this.#retryTimer = undefined;
      if (this.#running) this.#dial();
    }), delayMs);
  }

  /** One timer for the session's next deadline (dial, CONNACK, keepalive, ping). */
  #schedule(): void {
    if (this.#timer !== undefined) this.#io.timers.clear(this.#timer);
    this.#timer = undefined;
    const deadline = this.#session.nextDeadline();
    if (deadline === undefined) return;
    const delay = Math.max(0, deadline - this.#io.clock.now());
    this.#timer = this.#io.timers.set(() => this.#guard("session timer", () => {
      this.#timer = undefined;
      this.#apply(this.#session.tick(this.#io.clock.now()));
    }), delay);
  }

  /** Run a callback's work; anything it throws becomes a fault instead of leaving the callback. */
  #guard(where: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#fault(where, error);
    }
  }

  /**
   * Drop the connection and dial again after a back-off, as after a transport failure. Each step
   * is fenced on its own: the retry is armed before any listener hears of it, and nothing here may
   * throw (the I/O itself may be what failed).
   */
  #fault(where: string, error: unknown): void {
    const code = typeof (error as { code?: unknown } | null)?.code === "string" ? (error as { code: string }).code : "exception";
    const socket = this.#socket;
    this.#socket = undefined;
    try { socket?.close(); } catch { /* already finished */ }
    const notices: ClientEvent[] = [{ type: "fault", where, code }];
    try {
      for (const action of this.#session.fault(`${where} threw (${code})`)) {
        if (action.type === "offline") notices.push(action);
      }
      if (this.#running) {
        const delayMs = backoffDelay(this.#options.backoff ?? DEFAULT_BACKOFF, this.#attempt, randomUnit(this.#io.random));
        this.#attempt++;
        this.#armRetry(delayMs);
        notices.push({ type: "backoff", delayMs, attempt: this.#attempt - 1 });
      }
      if (this.#timer !== undefined) this.#io.timers.clear(this.#timer);
      this.#timer = undefined;
    } catch { /* the I/O is failing too: nothing more can be done from here */ }
    for (const notice of notices) {
      try { this.#emit(notice); } catch { /* a listener failing on the fault report is not a new fault */ }
    }
  }

  #now(): number {
    return this.#io.clock.now();
  }

  #closeSocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close();
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) this.#io.timers.clear(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #emit(event: ClientEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
