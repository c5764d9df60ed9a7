export { TLSSocket as default } from "./sockets.js";
export type SecureOptions = Record<string, unknown>;
