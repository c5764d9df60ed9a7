// Fake "sntp". Mirrors modules/network/sntp/sntp.js: new SNTP({host}, callback); callback(SNTP.time,
// seconds) or callback(SNTP.error, message) (whose return may name another host; not used by the
// glue); constants time = 1, retry = 2, error = -1. Answers from world.sntpSeconds one timer turn
// later.
import { addTimer, world } from "./world.js";

export default class SNTP {
  static readonly time = 1;
  static readonly retry = 2;
  static readonly error = -1;
  constructor(options: { host: string }, callback: (message: number, value?: number) => unknown) {
    if (typeof options?.host !== "string" || options.host === "") throw new Error("SNTP: host required");
    world.sntpRequests++;
    addTimer(() => {
      if (world.sntpSeconds === undefined) callback(SNTP.error);
      else callback(SNTP.time, world.sntpSeconds);
    }, 50, 0);
  }
}
