// Deep equality over plain data and byte arrays (a Buffer equals a Uint8Array with the same
// bytes): the scenarios' own comparison, so the fuzzer and the tests agree on "the same".
export { deepEqual as sameValue } from "../../../test/scenarios/harness.js";
