export { TCP as default } from "./sockets.js";
