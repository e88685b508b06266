import { createHmac } from "node:crypto";
import { SignJWT, decodeJwt } from "jose";
import { Hs256Error, verifyHs256 } from "@/auth/hs256";

/** How long an OAuth access token lives; its session is also looked up on every use, so revocation is immediate. */
export const OAUTH_ACCESS_TTL_SECONDS = 30 * 60;

const TYP = "at+jwt";

/** What an OAuth access token says (RFC 9068 claims plus the DPoP binding). */
export interface OAuthAccessClaims {
  /** The account. */
  sub: string;
  /** The OAuth session (`oauth_token.id`). */
  jti: string;
  clientId: string;
  scope: string;
  /** Thumbprint of the DPoP key every request must prove (`cnf.jkt`). */
  jkt: string;
  exp: number;
}

export type AccessTokenFailure = "expired" | "invalid";

export class AccessTokenError extends Error {
  constructor(readonly reason: AccessTokenFailure) {
    super(reason === "expired" ? "Token has expired" : "Token could not be verified");
    this.name = "AccessTokenError";
  }
}

export interface AccessTokens {
  sign(claims: Omit<OAuthAccessClaims, "exp">): Promise<{ token: string; expiresIn: number }>;
  /** The claims of a token this server issued; AccessTokenError otherwise. */
  verify(token: string): Promise<OAuthAccessClaims>;
  /** Whether this server signed `token`, expired or not (revocation of an expired token still ends its session). */
  verifyIgnoringExpiry(token: string): Promise<boolean>;
}

/**
 * OAuth access tokens: JWTs signed HS256 with a key of their own, derived
 * from the server's JWT secret, so a session token can never pass as an
 * OAuth token or the other way round. The issuer is the authorization
 * server (publicUrl), the audience the resource server (the service DID):
 * Aurora is both, so no public key needs to be published for them.
 */
export function createAccessTokens(opts: { jwtSecret: string; issuer: string; audience: string }): AccessTokens {
  const key = createHmac("sha256", opts.jwtSecret).update("aurora oauth access token v1").digest();
  const expectations = { typ: TYP, issuer: opts.issuer, audience: opts.audience };
  return {
    async sign({ sub, jti, clientId, scope, jkt }) {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ scope, client_id: clientId, cnf: { jkt } })
        .setProtectedHeader({ alg: "HS256", typ: TYP })
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setSubject(sub)
        .setJti(jti)
        .setIssuedAt(now)
        .setExpirationTime(now + OAUTH_ACCESS_TTL_SECONDS)
        .sign(key);
      return { token, expiresIn: OAUTH_ACCESS_TTL_SECONDS };
    },
    async verify(token) {
      let payload;
      try {
        payload = verifyHs256(token, key, expectations);
      } catch (err) {
        throw new AccessTokenError(err instanceof Hs256Error && err.reason === "expired" ? "expired" : "invalid");
      }
      const cnf = payload.cnf as { jkt?: unknown } | undefined;
      const { sub, jti, scope, client_id: clientId, exp } = payload;
      if (typeof sub !== "string" || typeof jti !== "string" || typeof scope !== "string" || typeof clientId !== "string" || typeof cnf?.jkt !== "string") {
        throw new AccessTokenError("invalid");
      }
      return { sub, jti, scope, clientId, jkt: cnf.jkt, exp: typeof exp === "number" ? exp : 0 };
    },
    async verifyIgnoringExpiry(token) {
      try {
        verifyHs256(token, key, { ...expectations, ignoreExpiry: true });
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** True when `token` looks like a DPoP-bound access token (it has `cnf.jkt`): sent as a Bearer token, it is refused as such. */
export function isDpopBound(token: string): boolean {
  try {
    const cnf = decodeJwt(token).cnf as { jkt?: unknown } | undefined;
    return typeof cnf?.jkt === "string";
  } catch {
    return false;
  }
}
