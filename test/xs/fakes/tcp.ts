// embedded:io/socket/tcp: see sockets.ts (mirrors modules/io/socket/lwip/tcp.js + tcp.c).
export { TCP as default } from "./sockets.js";
