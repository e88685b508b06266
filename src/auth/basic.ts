import { createHash, timingSafeEqual } from "node:crypto";

/** `Basic base64(user:pass)` → its parts; null when the header is not well-formed Basic. Passwords may contain colons. */
export function parseBasicAuth(header: string | null): { username: string; password: string } | null {
  if (!header) return null;
  const match = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Compare two secrets in time independent of where they differ. Both sides
 * are hashed first so that neither the content nor the length of the
 * expected secret shows in the timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}
