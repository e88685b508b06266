import type { Keypair } from "@atproto/crypto";

/** How long a service-auth token minted for a proxied call lives: long enough for one request. */
export const PROXY_TOKEN_SECONDS = 60;

export interface ServiceJwtRequest {
  /** The account DID the token speaks for. */
  readonly iss: string;
  /** The service DID it is addressed to, with `#fragment` when the caller named the service entry. */
  readonly aud: string;
  /** The one XRPC method it may call; null for a token valid for any method (getServiceAuth without lxm). */
  readonly lxm: string | null;
  /** Expiry, Unix seconds. @default now + PROXY_TOKEN_SECONDS */
  readonly exp?: number;
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64url");

/**
 * An atproto service-auth JWT (atproto.com/specs/xrpc#inter-service-authentication-jwt):
 * header `{typ: "JWT", alg}` (ES256K for the secp256k1 repo keys Aurora creates),
 * claims `iss`, `aud`, `exp`, `iat`, `lxm` (when scoped to one method) and a
 * random `jti`, signed with the account's signing key (the DID document's
 * `#atproto` key, which the receiver resolves to verify it).
 */
export async function mintServiceJwt(key: Keypair, req: ServiceJwtRequest, nowMs = Date.now()): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const claims = {
    iat,
    iss: req.iss,
    aud: req.aud,
    exp: req.exp ?? iat + PROXY_TOKEN_SECONDS,
    ...(req.lxm === null ? {} : { lxm: req.lxm }),
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
  };
  const signingInput = `${b64url(JSON.stringify({ typ: "JWT", alg: key.jwtAlg }))}.${b64url(JSON.stringify(claims))}`;
  const signature = await key.sign(new TextEncoder().encode(signingInput));
  return `${signingInput}.${b64url(signature)}`;
}
