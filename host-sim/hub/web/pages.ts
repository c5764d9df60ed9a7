// The hub's pages, rendered on the server: small, accessible (labels, buttons that say what they
// do, a caption per table), with data-testid attributes for the browser test. One inline script
// (allowed by a per-response CSP nonce) polls the JSON endpoint and swaps in the fresh list.
import type { AuditEntry, HubRequest } from "../state.js";

export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const time = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;

function layout(title: string, nonce: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style nonce="${nonce}">
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111;max-width:72rem}
table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}
caption{text-align:left;font-weight:bold;padding:.3rem 0}.code{font-family:monospace;font-size:1.3rem;letter-spacing:.1rem}
button{padding:.3rem .8rem;margin-right:.3rem;font-size:1rem}.allow{background:#d8f5d8}.deny{background:#f8d8d8}
.status-pending{color:#8a5a00}.status-allowed{color:#006400}.status-released{color:#004c8c}.status-denied{color:#a00000}
.error{background:#fde;border:1px solid #a00;padding:.5rem}label{display:block;margin:.5rem 0}
</style></head><body>${body}</body></html>`;
}

export function loginPage(nonce: string, csrf: string, error?: string): string {
  return layout("Hub login", nonce, `
<h1>Onboarding hub</h1>
${error !== undefined ? `<p class="error" role="alert" data-testid="login-error">${esc(error)}</p>` : ""}
<form method="post" action="/login"><input type="hidden" name="csrf" value="${esc(csrf)}">
<label for="username">User name <input id="username" name="username" autocomplete="username" required data-testid="username"></label>
<label for="password">Password <input id="password" name="password" type="password" autocomplete="current-password" required data-testid="password"></label>
<button type="submit" data-testid="login">Log in</button>
</form>`);
}

export interface DevicesView {
  readonly user: string;
  readonly csrf: string;
  readonly version: number;
  readonly requests: readonly HubRequest[];
  readonly audit: readonly AuditEntry[];
  readonly error?: string;
  readonly now: number;
}

function actions(r: HubRequest, csrf: string): string {
  const key = esc(r.key);
  const button = (action: string, label: string, cls: string) =>
    `<button type="submit" name="action" value="${action}" class="${cls}" data-testid="${action}-${key}" aria-label="${label} ${esc(r.name)} (${esc(r.address)})">${label}</button>`;
  const buttons = r.status === "pending" || r.status === "allowed"
    ? button("allow", r.status === "allowed" ? "Allow again" : "Allow", "allow") + button("deny", "Deny", "deny")
    : button("clear", "Clear decision", "clear");
  return `<form method="post" action="/decide"><input type="hidden" name="csrf" value="${esc(csrf)}"><input type="hidden" name="key" value="${key}">${buttons}</form>`;
}

function statusText(r: HubRequest, now: number): string {
  if (r.status === "allowed" && r.window) return `allowed: window open for ${r.window.address}, ${Math.max(0, Math.ceil((r.window.until - now) / 1000))} s left`;
  return r.status;
}

export function devicesMain(v: DevicesView): string {
  const rows = v.requests.map((r) => `
<tr data-testid="request-${esc(r.key)}" data-status="${r.status}">
<td>${esc(r.name)}</td>
<td><code>${esc(r.nodeId ?? "(emoncms: no identity)")}</code></td>
<td>${esc(r.address)}</td>
<td>${time(r.firstSeen)}</td>
<td class="code" data-testid="code-${esc(r.key)}">${esc(r.pairingCode ?? "—")}</td>
<td class="status-${r.status}" data-testid="status-${esc(r.key)}">${esc(statusText(r, v.now))}${r.note !== undefined ? `<br><small>${esc(r.note)}</small>` : ""}</td>
<td>${actions(r, v.csrf)}</td>
</tr>`).join("");
  const audit = [...v.audit].reverse().slice(0, 100).map((a) => `
<tr><td>${time(a.time)}</td><td><code>${esc(a.key)}</code></td><td>${esc(a.address)}</td><td>${esc(a.decision)}</td><td>${esc(a.who)}</td><td>${esc(a.detail ?? "")}</td></tr>`).join("");
  return `<main data-version="${v.version}">
${v.error !== undefined ? `<p class="error" role="alert" data-testid="decision-error">${esc(v.error)}</p>` : ""}
<p>Compare the pairing code with the one the device shows before you click <strong>Allow</strong>.</p>
<table data-testid="requests"><caption>Devices asking to join (${v.requests.length})</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Node ID</th><th scope="col">Address</th><th scope="col">First seen</th><th scope="col">Pairing code</th><th scope="col">Status</th><th scope="col">Decision</th></tr></thead>
<tbody>${rows || `<tr><td colspan="7" data-testid="no-requests">No device is asking.</td></tr>`}</tbody></table>
<table data-testid="audit"><caption>Audit log (newest first)</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Device</th><th scope="col">Address</th><th scope="col">Decision</th><th scope="col">Who</th><th scope="col">Detail</th></tr></thead>
<tbody>${audit || `<tr><td colspan="6">Nothing decided yet.</td></tr>`}</tbody></table>
</main>`;
}

export function devicesPage(nonce: string, v: DevicesView): string {
  return layout("Hub: devices asking to join", nonce, `
<header><h1>Onboarding hub</h1>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${esc(v.csrf)}">Logged in as ${esc(v.user)} <button type="submit" data-testid="logout">Log out</button></form></header>
${devicesMain(v)}
<script nonce="${nonce}">
// Poll the JSON endpoint; when something changed, swap in the freshly rendered list.
(function () {
  var busy = false;
  setInterval(function () {
    if (busy) return;
    busy = true;
    fetch("/api/requests", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (j) {
      var main = document.querySelector("main");
      if (!j || !main || String(j.version) === main.getAttribute("data-version")) return;
      return fetch("/", { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (fresh) main.replaceWith(fresh);
      });
    }).catch(function () {}).then(function () { busy = false; });
  }, 1000);
})();
</script>`);
}
