// A value that must never be printed: private keys, passwords, PoP, Wi-Fi passphrases.
// Secrets travel through the core wrapped in this class, so a log line, an error message or a
// JSON dump that includes one shows "[redacted]" by construction. Only code that really needs
// the bytes (TLS, MQTT CONNECT, signing, the credential store) calls `reveal*()`.

const REDACTED = "[redacted]";

export class Secret {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  static fromBytes(bytes: Uint8Array): Secret {
    return new Secret(bytes.slice());
  }

  static fromString(text: string): Secret {
    return new Secret(utf8(text));
  }

  get byteLength(): number {
    return this.#bytes.length;
  }

  /** A copy of the secret bytes. */
  revealBytes(): Uint8Array {
    return this.#bytes.slice();
  }

  /** The secret as UTF-8 text (passwords, PEM keys). */
  revealString(): string {
    return fromUtf8(this.#bytes);
  }

  equals(other: Secret): boolean {
    const a = this.#bytes;
    const b = other.#bytes;
    if (a.length !== b.length) return false;
    let diff = 0; // constant time for equal lengths
    for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
    return diff === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }
}

export const isSecret = (value: unknown): value is Secret => value instanceof Secret;
export { REDACTED };

import { utf8, fromUtf8 } from "../bytes/bytes.js";
