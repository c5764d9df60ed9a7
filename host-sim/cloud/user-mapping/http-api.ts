// The REST face of the user-mapping cloud, the subset of RainMaker's API the apps/CLI use.
// The "logged-in session" is simulated by `Authorization: Bearer <user_id>`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { UserMappingCloud } from "./service.js";

export interface CloudApiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export async function startCloudApi(cloud: UserMappingCloud, options: { host?: string; port?: number } = {}): Promise<CloudApiServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const send = (code: number, body: unknown): void => {
        res.writeHead(code, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const user = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (user === undefined) return send(401, { status: "failure", description: "not logged in" });
      const url = new URL(req.url ?? "/", "http://cloud");
      let body: Record<string, unknown> = {};
      try {
        if (chunks.length > 0) body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {
        return send(400, { status: "failure", description: "bad JSON" });
      }
      const route = `${req.method} ${url.pathname}`;
      switch (route) {
        case "POST /v1/user/nodes/mapping/initiate":
          return send(200, cloud.initiate(user, typeof body.timeout === "number" ? body.timeout : undefined));
        case "POST /v1/user/nodes/mapping/verify": {
          const r = cloud.verify(user, { request_id: String(body.request_id), node_id: String(body.node_id), challenge_response: String(body.challenge_response) });
          return send(r.status === "success" ? 200 : 400, r);
        }
        case "PUT /v1/user/nodes/mapping":
          if (body.operation !== "add" || typeof body.node_id !== "string" || typeof body.secret_key !== "string") return send(400, { status: "failure", description: "bad request" });
          return send(200, { status: "success", ...cloud.addMapping(user, body.node_id, body.secret_key) });
        case "GET /v1/user/nodes/mapping": {
          const status = cloud.mappingStatus(user, url.searchParams.get("request_id") ?? "");
          return status === undefined ? send(404, { status: "failure", description: "unknown request" }) : send(200, { request_status: status });
        }
        case "GET /v1/user/nodes":
          return send(200, { nodes: cloud.nodesOf(user) });
        default: {
          const m = /^\/v1\/user\/nodes\/([^/]+)$/.exec(url.pathname);
          if (req.method === "GET" && m) return cloud.canAccess(user, m[1]!) ? send(200, { node_id: m[1] }) : send(403, { status: "failure", description: "not your node" });
          return send(404, { status: "failure", description: "no such route" });
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve()));
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** The app's side of the REST API (fetch-based), for the CLI and tests. */
export class CloudApiClient {
  constructor(readonly url: string, readonly userId: string) {}

  async #call<T>(method: string, path: string, body?: unknown): Promise<{ code: number; body: T }> {
    const res = await fetch(this.url + path, { method, headers: { Authorization: `Bearer ${this.userId}`, "Content-Type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { code: res.status, body: (await res.json()) as T };
  }

  async initiate(timeout = 360) { return (await this.#call<{ request_id: string; challenge: string }>("POST", "/v1/user/nodes/mapping/initiate", { timeout })).body; }
  async verify(request_id: string, node_id: string, challenge_response: string) { return (await this.#call<{ status: string; description: string }>("POST", "/v1/user/nodes/mapping/verify", { request_id, node_id, challenge_response })).body; }
  async addMapping(node_id: string, secret_key: string) { return (await this.#call<{ request_id: string }>("PUT", "/v1/user/nodes/mapping", { node_id, secret_key, operation: "add" })).body; }
  async mappingStatus(request_id: string) { return (await this.#call<{ request_status: string }>("GET", `/v1/user/nodes/mapping?request_id=${encodeURIComponent(request_id)}`)).body.request_status; }
  async nodes() { return (await this.#call<{ nodes: string[] }>("GET", "/v1/user/nodes")).body.nodes; }
  async node(nodeId: string) { return (await this.#call<unknown>("GET", `/v1/user/nodes/${encodeURIComponent(nodeId)}`)).code; }
}
