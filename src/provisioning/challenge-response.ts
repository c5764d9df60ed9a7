// What ch_resp (RainMaker challenge-response mapping) agrees to sign, and how often, sans I/O.
//
// The ESP RainMaker cloud's challenge is an opaque string the app relays as UTF-8 bytes
// (esp-rainmaker-cli challenge_response.py, ESP RainMaker Android ProvisionActivity); the
// format is not published. Our reference cloud sends 64 hex digits. We accept what a
// random-string challenge can look like — 16 to 256 printable ASCII characters without spaces —
// and refuse everything else (control bytes, NUL, newlines, spaces, non-ASCII), so structured
// text cannot be slipped in. The signature itself is framed for this purpose only
// (src/identity/signing.ts), so even an accepted challenge never yields a signature that
// verifies as a registration or pairing request.
//
// Rate: at most `maxSignatures` per provisioning window, at least `minIntervalMs` apart. Off
// (status Disabled) once the mapping is done: the app sent Disable, or sent Wi-Fi credentials
// after a signature (the apps send them only after the cloud verified it).

export const CHALLENGE_MIN_BYTES = 16;
export const CHALLENGE_MAX_BYTES = 256;

export interface ChallengeRateLimit {
  /** Signatures per provisioning window. */
  readonly maxSignatures: number;
  /** Least time between two signatures. */
  readonly minIntervalMs: number;
}

export const DEFAULT_CHALLENGE_RATE: ChallengeRateLimit = { maxSignatures: 3, minIntervalMs: 2_000 };

/** Why a challenge is not signable, or undefined when it is. */
export function challengeFormatProblem(challenge: Uint8Array): string | undefined {
  if (challenge.length < CHALLENGE_MIN_BYTES || challenge.length > CHALLENGE_MAX_BYTES) {
    return `challenge must be ${CHALLENGE_MIN_BYTES} to ${CHALLENGE_MAX_BYTES} bytes (got ${challenge.length})`;
  }
  for (let i = 0; i < challenge.length; i++) {
    const b = challenge[i]!;
    if (b < 0x21 || b > 0x7e) return `challenge byte ${i} is not printable ASCII`;
  }
  return undefined;
}

export type ChallengeVerdict = "sign" | "bad-format" | "too-soon" | "disabled";

/** One window's ch_resp gate. */
export class ChallengeGate {
  readonly #rate: ChallengeRateLimit;
  #signed = 0;
  #lastAt: number | undefined;
  #disabled = false;

  constructor(rate: ChallengeRateLimit = DEFAULT_CHALLENGE_RATE) {
    this.#rate = rate;
  }

  get signatures(): number {
    return this.#signed;
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  /** Decide on one challenge at time `now`; "sign" counts it. */
  admit(challenge: Uint8Array, now: number): ChallengeVerdict {
    if (this.#disabled) return "disabled";
    if (challengeFormatProblem(challenge) !== undefined) return "bad-format";
    if (this.#lastAt !== undefined && now - this.#lastAt < this.#rate.minIntervalMs && now >= this.#lastAt) return "too-soon";
    this.#signed++;
    this.#lastAt = now;
    if (this.#signed >= this.#rate.maxSignatures) this.#disabled = true; // this one is the last
    return "sign";
  }

  /** The mapping is done (or the app asked): no more signatures in this window. */
  disable(): void {
    this.#disabled = true;
  }
}
