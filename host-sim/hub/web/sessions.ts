// Login for the hub's page: one operator account whose password is kept only as an scrypt hash;
// sessions are random IDs in an HttpOnly, SameSite=Strict, Secure cookie, each with its own CSRF
// token that every form carries. Sessions live in memory: a restarted hub asks to log in again.
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const SESSION_COOKIE = "hub_session";
/** Pre-login CSRF token (double submit): set with the login form, echoed by its POST. */
export const LOGIN_COOKIE = "hub_login";
const SESSION_MS = 8 * 60 * 60 * 1000;

export interface Session { readonly id: string; readonly user: string; readonly csrf: string; readonly expires: number }

export class Sessions {
  readonly #user: string;
  readonly #salt = randomBytes(16);
  readonly #hash: Buffer;
  readonly #sessions = new Map<string, Session>();

  constructor(user: string, password: string) {
    if (password.length < 8) throw new Error("hub: the operator password must have at least 8 characters");
    this.#user = user;
    this.#hash = scryptSync(password, this.#salt, 32);
  }

  /** A new session if the login is right, else undefined (same work either way). */
  login(user: string, password: string): Session | undefined {
    const given = scryptSync(password, this.#salt, 32);
    const passwordOk = timingSafeEqual(given, this.#hash);
    if (!passwordOk || user !== this.#user) return undefined;
    const s: Session = { id: randomBytes(24).toString("base64url"), user, csrf: randomBytes(24).toString("base64url"), expires: Date.now() + SESSION_MS };
    this.#sessions.set(s.id, s);
    return s;
  }

  of(req: IncomingMessage): Session | undefined {
    const id = cookie(req, SESSION_COOKIE);
    const s = id === undefined ? undefined : this.#sessions.get(id);
    if (!s) return undefined;
    if (s.expires < Date.now()) {
      this.#sessions.delete(s.id);
      return undefined;
    }
    return s;
  }

  logout(s: Session): void {
    this.#sessions.delete(s.id);
  }

  static csrfOk(s: Session, given: string | null): boolean {
    if (given === null) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(s.csrf);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A fresh login-form token and the cookie that carries it (only to /login, ten minutes). */
  static loginToken(): { token: string; cookie: string } {
    const token = randomBytes(24).toString("base64url");
    return { token, cookie: `${LOGIN_COOKIE}=${token}; HttpOnly; Secure; SameSite=Strict; Path=/login; Max-Age=600` };
  }

  /** The login POST carries the token its form was served with (a cross-site form cannot read it). */
  static loginTokenOk(req: IncomingMessage, given: string | null): boolean {
    const expected = cookie(req, LOGIN_COOKIE);
    if (given === null || expected === undefined || expected.length === 0) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  static setCookie(s: Session): string {
    return `${SESSION_COOKIE}=${s.id}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`;
  }

  static clearCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0`;
  }
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
