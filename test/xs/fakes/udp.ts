export { UDP as default } from "./sockets.js";
