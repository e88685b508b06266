import { isValidDid } from "@atproto/syntax";

/** The DID methods atproto allows: did:plc, and did:web at hostname level (a port only for localhost). */
export function isAtprotoDid(did: string): boolean {
  if (/^did:plc:[a-z2-7]{24}$/.test(did)) return true;
  if (!did.startsWith("did:web:") || !isValidDid(did)) return false;
  const id = did.slice("did:web:".length);
  if (id.includes(":")) return false;
  let host: string;
  try {
    host = decodeURIComponent(id);
  } catch {
    return false;
  }
  return !host.includes(":") || /^localhost:\d+$/.test(host);
}

// RFC 3986 fragment characters (pchar / "/" / "?"), percent-escapes included.
const FRAGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})+$/;

/**
 * A DID or a `did#serviceId` reference to one of its services: what a
 * service-auth token's `aud` (and `iss`) may be, and what getServiceAuth
 * accepts as the audience.
 */
export function isAtprotoDidRef(value: string): boolean {
  const hash = value.indexOf("#");
  if (hash < 0) return isAtprotoDid(value);
  return FRAGMENT.test(value.slice(hash + 1)) && isAtprotoDid(value.slice(0, hash));
}

/** `did#fragment` → [did, fragment]; [did, null] without one. */
export function splitDidRef(value: string): [string, string | null] {
  const hash = value.indexOf("#");
  return hash < 0 ? [value, null] : [value.slice(0, hash), value.slice(hash + 1)];
}
