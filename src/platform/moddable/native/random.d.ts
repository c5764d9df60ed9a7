/** Fill the bytes of `into` (an ArrayBuffer or a view) from the platform's random source. */
export default function fillRandom(into: ArrayBuffer | ArrayBufferView): void;
