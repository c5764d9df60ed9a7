// embedded:io/socket/udp: see sockets.ts (mirrors modules/io/socket/lwip/udp.js + udp.c).
export { UDP as default } from "./sockets.js";
