import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Verification of the compact HS256 JWTs Aurora signs itself (session tokens,
 * OAuth access tokens), synchronously with node:crypto's HMAC: about 2 µs a
 * token, against about 70 µs of CPU for jose's `jwtVerify` through WebCrypto
 * in Bun (measured with bench-style loops), paid on every authenticated
 * request. Signing stays with jose: it happens once per session.
 *
 * It decides as jose's `jwtVerify(token, key, { algorithms: ["HS256"], typ,
 * audience, issuer })` does (hs256.test.ts holds it to that on mutated
 * tokens), in jose's order: the header, the signature, then the claims, so
 * "expired" is only ever said of a token this server signed whose other
 * claims hold. It is stricter on form only: segments must be plain
 * base64url (no whitespace or padding) and a `crit` header is refused.
 */

export type Hs256Failure = "expired" | "invalid";

export class Hs256Error extends Error {
  constructor(
    readonly reason: Hs256Failure,
    detail: string,
  ) {
    super(`${reason === "expired" ? "expired token" : "invalid token"}: ${detail}`);
    this.name = "Hs256Error";
  }
}

export interface Hs256Expectations {
  /** The header's `typ`, compared as jose does (case-insensitive, `application/` implied). */
  typ: string;
  /** Must be `aud`, or one of the `aud` array. */
  audience: string;
  /** Must be `iss` when given. */
  issuer?: string;
  /** Accept a token past its `exp` (to revoke what an expired token names). */
  ignoreExpiry?: boolean;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The claims of `token` if it meets `expect` and is signed with `key`; Hs256Error otherwise. */
export function verifyHs256(token: string, key: Uint8Array, expect: Hs256Expectations, nowMs = Date.now()): Record<string, unknown> {
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first < 0 || last === first || token.indexOf(".", first + 1) !== last) throw invalid("not a compact JWS");
  const encodedHeader = token.slice(0, first);
  const encodedPayload = token.slice(first + 1, last);
  const encodedSignature = token.slice(last + 1);
  for (const segment of [encodedHeader, encodedPayload, encodedSignature]) {
    // A length of 4n+1 is not base64 at all (Buffer would drop the last character).
    if (!SEGMENT.test(segment) || segment.length % 4 === 1) throw invalid("not base64url");
  }

  const header = jsonObject(encodedHeader, "header");
  if (header.alg !== "HS256") throw invalid("alg is not HS256");
  if (header.crit !== undefined) throw invalid("crit is not supported");

  const expected = createHmac("sha256", key).update(token.slice(0, last)).digest();
  const signature = Buffer.from(encodedSignature, "base64url");
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw invalid("signature");

  const claims = jsonObject(encodedPayload, "claims");
  if (typeof header.typ !== "string" || normalizeTyp(header.typ) !== normalizeTyp(expect.typ)) throw invalid("typ");
  if (!Object.hasOwn(claims, "aud")) throw invalid("no aud");
  if (expect.issuer !== undefined) {
    if (!Object.hasOwn(claims, "iss")) throw invalid("no iss");
    if (claims.iss !== expect.issuer) throw invalid("iss");
  }
  const aud = claims.aud;
  if (!(aud === expect.audience || (Array.isArray(aud) && aud.includes(expect.audience)))) throw invalid("aud");
  const now = Math.floor(nowMs / 1000);
  for (const claim of ["iat", "nbf", "exp"]) {
    if (claims[claim] !== undefined && typeof claims[claim] !== "number") throw invalid(`${claim} is not a number`);
  }
  if (typeof claims.nbf === "number" && claims.nbf > now) throw invalid("not yet valid (nbf)");
  if (!expect.ignoreExpiry && typeof claims.exp === "number" && claims.exp <= now) throw new Hs256Error("expired", "exp has passed");
  return claims;
}

function invalid(detail: string): Hs256Error {
  return new Hs256Error("invalid", detail);
}

/** A base64url segment holding a JSON object (not an array, not null), in strict UTF-8. */
function jsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(Buffer.from(segment, "base64url")));
  } catch {
    throw invalid(`${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${what} is not an object`);
  return value as Record<string, unknown>;
}

/** RFC 7515 §4.1.9: media types compare case-insensitively, and `application/` may be left out. */
function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes("/") ? lower : `application/${lower}`;
}
