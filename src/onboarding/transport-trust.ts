// Issue 14, H4: how far an onboarding reply may be trusted depends on the link it came over.
// Over plain HTTP anyone on the path can write the reply (the secure variant's AES-CFB has no
// integrity and one key for the whole fleet), so such a reply may at most hand out credentials:
// the broker URL and the CA the unit trusts stay the factory config's.
//
// "Verified TLS" for now means: an https:// URL, which httpFetch always verifies (a CA given in
// the config or the platform's root store; it never skips verification unless asked to pin a key,
// which the onboarding strategies do not). When the TLS layer offers a finer notion this is the
// one place to use it.
import { parseHttpUrl } from "../http/url.js";

export type ReplyTrust = "verified-tls" | "insecure";

export class InsecureTransportError extends Error {
  readonly code = "insecure-transport";
}

/**
 * The trust a reply from `url` gets; throws InsecureTransportError for http:// unless the factory
 * config allowed it. The message names the host, never a key (URLs here carry no user-info).
 */
export function replyTrust(url: string, insecureTransport: boolean | undefined): ReplyTrust {
  const target = parseHttpUrl(url);
  if (target.scheme === "https") return "verified-tls";
  if (insecureTransport !== true) {
    throw new InsecureTransportError(`refusing http://${target.authority}: onboarding over plain HTTP needs insecureTransport: true in the factory config`);
  }
  return "insecure";
}
