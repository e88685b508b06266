import { createHash, timingSafeEqual } from "node:crypto";
import { decodeProtectedHeader } from "jose";
import { createTokenSigner } from "@/auth/tokens";
import type { Caller } from "./types";

/** Decides a request's rate-limit tier from its credentials, before (and independently of) the handler's auth. */
export type Identify = (request: Request) => Promise<Caller>;

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/**
 * The limiter's own, cheap caller check: no database, no cache. A Bearer
 * session token (access, or refresh for refreshSession) whose HS256
 * signature, audience and expiry verify (src/auth/tokens.ts) is its DID;
 * HTTP Basic `admin:<admin password>` is the admin. Anything else, an
 * invalid token included, is unauthenticated and limited by IP.
 * Revocation is not checked here: a revoked but unexpired token still
 * counts against its own DID, never against someone else's.
 */
export function tokenIdentify(secrets: { readonly jwtSecret: string; readonly adminPassword: string }, serviceDid: string): Identify {
  const tokens = createTokenSigner(secrets.jwtSecret, serviceDid);
  const admin = sha256(`admin:${secrets.adminPassword}`);

  const verify = async (token: string): Promise<string | null> => {
    // One verification, chosen by the header's typ.
    let typ: unknown;
    try {
      typ = decodeProtectedHeader(token).typ;
    } catch {
      return null;
    }
    const verifying = typ === "at+jwt" ? tokens.verifyAccess(token) : typ === "refresh+jwt" ? tokens.verifyRefresh(token) : null;
    return (await verifying?.catch(() => null))?.did ?? null;
  };

  return async (request) => {
    const header = request.headers.get("authorization");
    if (!header) return null;
    const space = header.indexOf(" ");
    if (space < 0) return null;
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === "bearer") {
      const did = await verify(value);
      return did ? { kind: "user", did } : null;
    }
    if (scheme === "basic") {
      // Digests compare in constant time whatever the lengths.
      return timingSafeEqual(sha256(Buffer.from(value, "base64").toString("utf8")), admin) ? { kind: "admin" } : null;
    }
    return null;
  };
}
