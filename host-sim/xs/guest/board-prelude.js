// Evaluated in the XS worker before the core: make it refuse what a Moddable board build refuses
// (shared/DESIGN.md, "Board truths"). xsnap's worker has conveniences a board does not:
// TextEncoder/TextDecoder, performance, setImmediate, Base64, print. Remove them. Built-in
// prototypes are frozen after preload on the board, so an Error subclass assigning this.name or
// code patching a prototype fails there: freeze them here too. The design forbids reading the
// clock or randomness except through the I/O object: make the ambient ones throw.
(function boardPrelude() {
  "use strict";
  const g = globalThis;
  // The test bridge (not the core) may keep the worker's native codecs, out of the core's sight,
  // so that shuttling I/O over the pipe does not dominate run time; and gc, so the host can
  // measure the live heap after a collection (bench, soak).
  Object.defineProperty(g, Symbol.for("onboarding.xs-bridge"), {
    value: Object.freeze({ TextEncoder: g.TextEncoder, TextDecoder: g.TextDecoder, Base64: g.Base64, gc: g.gc }),
  });
  for (const name of ["TextEncoder", "TextDecoder", "performance", "setImmediate", "Base64", "print", "gc",
    "currentMeterLimit", "resetMeter", "harden", "Compartment", "ModuleSource"]) {
    delete g[name];
  }
  Object.defineProperty(Date, "now", { value: function now() { throw new Error("Date.now() is not allowed in the core: use io.clock.now()"); } });
  Object.defineProperty(Math, "random", { value: function random() { throw new Error("Math.random() is not allowed in the core: use io.random()"); } });
  const constructors = [Object, Function, Array, Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError,
    URIError, AggregateError, Promise, Map, Set, WeakMap, WeakSet, WeakRef, FinalizationRegistry, RegExp, String,
    Number, Boolean, Symbol, BigInt, Date, ArrayBuffer, SharedArrayBuffer, DataView, Uint8Array, Int8Array,
    Uint8ClampedArray, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array,
    BigInt64Array, BigUint64Array, Object.getPrototypeOf(Uint8Array)];
  for (const c of constructors) {
    Object.freeze(c.prototype);
    Object.freeze(c);
  }
  Object.freeze(Math);
  Object.freeze(JSON);
  Object.freeze(Reflect);
})();
