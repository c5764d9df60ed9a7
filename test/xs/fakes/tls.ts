// embedded:io/socket/tcp/tls: see sockets.ts (mirrors examples/io/tcp/tlssocket/tlssocket.js over modules/crypt/ssl).
export { TLSSocket as default } from "./sockets.js";
export type SecureOptions = Record<string, unknown>;
