// The operator's side of the hub page without a browser: log in, read the list, post the same
// Allow / Deny / Clear form the page posts (with the session's CSRF token). Used by the demo's
// --auto-approve and by tests. It trusts exactly the hub's own self-signed certificate.
import { request } from "node:https";

export interface HubReply { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: string }

export function hubHttps(url: string, certPem: string, init: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string }): Promise<HubReply> {
  const u = new URL(init.path, url);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: init.method ?? "GET", headers: init.headers ?? {}, ca: certPem, servername: "localhost",
      ...(init.localAddress !== undefined ? { localAddress: init.localAddress } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

/** GET /login: the form's CSRF token and the cookie that must come back with it. */
export async function loginForm(url: string, certPem: string, localAddress?: string): Promise<{ token: string; cookie: string }> {
  const page = await hubHttps(url, certPem, { path: "/login", ...(localAddress !== undefined ? { localAddress } : {}) });
  const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  const cookie = String(page.headers["set-cookie"]?.[0] ?? "").split(";")[0]!;
  if (token === undefined || cookie === "") throw new Error("hub login page without a CSRF token");
  return { token, cookie };
}

export interface HubListing {
  readonly version: number;
  readonly requests: readonly { key: string; status: string; name: string; address: string; pairingCode?: string; nodeId?: string; requests: number; note?: string }[];
  readonly audit: readonly { time: number; key: string; address: string; decision: string; who: string; detail?: string }[];
}

export class HubWebClient {
  #cookie = "";
  #csrf = "";

  constructor(readonly url: string, readonly certPem: string) {}

  async login(user: string, password: string): Promise<boolean> {
    const form = await loginForm(this.url, this.certPem);
    const r = await hubHttps(this.url, this.certPem, { method: "POST", path: "/login", headers: { Cookie: form.cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf: form.token, username: user, password }).toString() });
    const set = r.headers["set-cookie"]?.[0];
    if (r.status !== 303 || set === undefined) return false;
    this.#cookie = set.split(";")[0]!;
    const page = await this.get("/");
    const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
    if (token === undefined) return false;
    this.#csrf = token;
    return true;
  }

  get(path: string): Promise<HubReply> {
    return hubHttps(this.url, this.certPem, { path, headers: { Cookie: this.#cookie } });
  }

  async list(): Promise<HubListing> {
    const r = await this.get("/api/requests");
    if (r.status !== 200) throw new Error(`hub list: HTTP ${r.status}`);
    return JSON.parse(r.body) as HubListing;
  }

  /** POSTs a form with the session's CSRF token (e.g. emoncms' allow.json). */
  post(path: string, fields: Record<string, string>, csrf = this.#csrf): Promise<HubReply> {
    return hubHttps(this.url, this.certPem, {
      method: "POST", path, headers: { Cookie: this.#cookie, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, ...fields }).toString(),
    });
  }

  /** Posts the page's decision form; returns the HTTP status (303 = done). */
  async decide(key: string, action: "allow" | "deny" | "clear", csrf = this.#csrf): Promise<number> {
    const r = await hubHttps(this.url, this.certPem, {
      method: "POST", path: "/decide", headers: { Cookie: this.#cookie, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, key, action }).toString(),
    });
    return r.status;
  }
}
