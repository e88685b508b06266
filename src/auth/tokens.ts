import { SignJWT } from "jose";
import { InvalidRequestError } from "@/errors";
import { Hs256Error, verifyHs256 } from "./hs256";

/** Session token scopes, as the reference PDS writes them. */
export const SCOPE = {
  access: "com.atproto.access",
  appPass: "com.atproto.appPass",
  appPassPrivileged: "com.atproto.appPassPrivileged",
  /** A taken-down account's log-in with `allowTakendown`: only the few methods that let it leave (verifier.ts). */
  takendown: "com.atproto.takendown",
  refresh: "com.atproto.refresh",
} as const;
export type AccessScope = (typeof SCOPE)["access" | "appPass" | "appPassPrivileged" | "takendown"];

export const ACCESS_TTL_SECONDS = 2 * 60 * 60;
export const REFRESH_TTL_SECONDS = 90 * 24 * 60 * 60;

const ACCESS_TYP = "at+jwt";
const REFRESH_TYP = "refresh+jwt";
const ACCESS_SCOPES: readonly string[] = [SCOPE.access, SCOPE.appPass, SCOPE.appPassPrivileged, SCOPE.takendown];

export interface AccessClaims {
  did: string;
  scope: AccessScope;
  /** The refresh token (`jti`) of the session: revoking it revokes this token too. */
  sessionId: string;
}

export interface RefreshClaims {
  did: string;
  /** The token's `jti`: the row in `refresh_token`. */
  tokenId: string;
  /** Seconds since the epoch. */
  exp: number;
}

/**
 * Session JWTs, HS256 with the server's JWT secret, audience = the service
 * DID. Access tokens carry `sid`, the refresh token id of their session, so
 * a revoked session's access tokens stop working before they expire.
 */
export interface TokenSigner {
  /** `refreshJti`: the refresh token's id when it must differ from `sessionId` (one that names no stored row cannot be used). */
  sign(claims: AccessClaims & { refreshExp?: number; refreshJti?: string }): Promise<{ accessJwt: string; refreshJwt: string; refreshExp: number }>;
  /** 400 ExpiredToken when expired; 400 InvalidToken for anything else wrong. */
  verifyAccess(token: string): Promise<AccessClaims>;
  verifyRefresh(token: string): Promise<RefreshClaims>;
}

export function createTokenSigner(jwtSecret: string, serviceDid: string): TokenSigner {
  const key = new TextEncoder().encode(jwtSecret);

  const verify = (token: string, typ: string): Claims => {
    try {
      return verifyHs256(token, key, { typ, audience: serviceDid });
    } catch (err) {
      // The signature is checked before the claims: an expired token here is a genuine one.
      if (err instanceof Hs256Error && err.reason === "expired") throw new InvalidRequestError("Token has expired", "ExpiredToken");
      throw new InvalidRequestError("Token could not be verified", "InvalidToken");
    }
  };
  const subject = (payload: Claims): string => {
    if (typeof payload.sub !== "string" || !payload.sub.startsWith("did:")) throw malformed();
    return payload.sub;
  };

  return {
    async sign({ did, scope, sessionId, refreshExp, refreshJti }) {
      const now = Math.floor(Date.now() / 1000);
      const exp = refreshExp ?? now + REFRESH_TTL_SECONDS;
      const accessJwt = await new SignJWT({ scope, sid: sessionId })
        .setProtectedHeader({ alg: "HS256", typ: ACCESS_TYP })
        .setSubject(did)
        .setAudience(serviceDid)
        .setIssuedAt(now)
        .setExpirationTime(Math.min(now + ACCESS_TTL_SECONDS, exp))
        .sign(key);
      const refreshJwt = await new SignJWT({ scope: SCOPE.refresh })
        .setProtectedHeader({ alg: "HS256", typ: REFRESH_TYP })
        .setSubject(did)
        .setAudience(serviceDid)
        .setJti(refreshJti ?? sessionId)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(key);
      return { accessJwt, refreshJwt, refreshExp: exp };
    },

    async verifyAccess(token) {
      const payload = verify(token, ACCESS_TYP);
      const scope = payload.scope;
      if (typeof scope !== "string" || !ACCESS_SCOPES.includes(scope)) {
        throw new InvalidRequestError("Bad token scope", "InvalidToken");
      }
      if (typeof payload.sid !== "string" || payload.sid === "") throw malformed();
      return { did: subject(payload), scope: scope as AccessScope, sessionId: payload.sid };
    },

    async verifyRefresh(token) {
      const payload = verify(token, REFRESH_TYP);
      if (payload.scope !== SCOPE.refresh) throw new InvalidRequestError("Bad token scope", "InvalidToken");
      if (typeof payload.jti !== "string" || payload.jti === "") throw malformed();
      return { did: subject(payload), tokenId: payload.jti, exp: typeof payload.exp === "number" ? payload.exp : 0 };
    },
  };
}

type Claims = Record<string, unknown>;

function malformed(): InvalidRequestError {
  return new InvalidRequestError("Malformed token", "InvalidToken");
}
