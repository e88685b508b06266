import { createHash } from "node:crypto";
import type { DidDocument } from "@atproto/common-web";
import { P256_JWT_ALG, SECP256K1_JWT_ALG, verifySignature } from "@atproto/crypto";
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { CachePlugin } from "@/contracts/cache";
import { AuthRequiredError } from "@/errors";
import { signingDidKey } from "@/identity/did-doc";
import type { ResolveOptions } from "@/identity/resolver";
import { isAtprotoDidRef, splitDidRef } from "./service-ref";

/** How far past `exp` a token is still accepted, for clocks that disagree a little. */
export const CLOCK_SKEW_SECONDS = 5;

/**
 * The furthest `exp` accepted: service auth is short-lived (getServiceAuth grants an hour at most),
 * and the replay state must be kept for as long as a token lives.
 */
export const MAX_LIFETIME_SECONDS = 24 * 60 * 60;

/** What a verified service-auth JWT says. */
export interface ServiceAuthClaims {
  /** The issuer as written: a DID, or `did#serviceId` for a service of that DID. */
  readonly iss: string;
  /** The issuer's DID (without the fragment). */
  readonly did: string;
  readonly aud: string;
  /** Unix seconds. */
  readonly exp: number;
  /** The method the token is bound to. */
  readonly lxm: string;
  readonly jti: string;
}

export interface ServiceAuthVerifier {
  /**
   * Verify an inbound service-auth JWT (atproto.com/specs/xrpc#inter-service-authentication-jwt)
   * for a call to `nsid`: `aud` must be this server's DID and `lxm` the called method.
   * Each token (its `iss` + `jti`) is accepted once by the nodes sharing the cache: the whole
   * cluster with Redis, one process with the built-in memory cache (which may also evict it early).
   * While Redis is unreachable service auth answers 503 rather than go unchecked.
   * Throws 401 with the reference's names: BadJwt, BadJwtType, JwtExpired,
   * BadJwtAudience, BadJwtLexiconMethod, BadJwtIss, BadJwtSignature; BadJwt also for a replay or an
   * `exp` more than MAX_LIFETIME_SECONDS ahead;
   * AuthenticationRequired when the issuer's DID or key cannot be found.
   */
  verify(token: string, nsid: string): Promise<ServiceAuthClaims>;
}

const ALGS: readonly string[] = [SECP256K1_JWT_ALG, P256_JWT_ALG];
// Session tokens, refresh tokens and DPoP proofs are JWTs too, never service auth (as the reference refuses them).
const FOREIGN_TYPES: readonly string[] = ["at+jwt", "refresh+jwt", "dpop+jwt"];

/** True when a bearer token is signed with a key pair (a service JWT), not with our session secret. */
export function isServiceJwt(token: string): boolean {
  try {
    return ALGS.includes(decodeProtectedHeader(token).alg ?? "");
  } catch {
    return false;
  }
}

export function createServiceAuthVerifier(deps: {
  /** This server's DID: the only audience accepted. */
  serviceDid: string;
  resolveDid: (did: string, opts?: ResolveOptions) => Promise<DidDocument | null>;
  /** Replay state: must be the shared cache for "once" to hold on every node. */
  cache: Pick<CachePlugin, "incr">;
  now?: () => number;
}): ServiceAuthVerifier {
  const now = deps.now ?? Date.now;

  /** The did:key that signs for `iss`: a labeler's label key for `#atproto_labeler`, else the #atproto key. */
  const issuerKey = async (iss: string, forceRefresh: boolean): Promise<string> => {
    const [did, service] = splitDidRef(iss);
    const doc = await deps.resolveDid(did, { forceRefresh });
    if (!doc) throw new AuthRequiredError("could not resolve iss did");
    const key = signingDidKey(doc, service === "atproto_labeler" ? "atproto_label" : "atproto");
    if (!key) throw new AuthRequiredError("missing or bad key in did doc");
    return key;
  };

  const signatureValid = async (key: string, alg: string, data: Uint8Array, sig: Uint8Array) => {
    try {
      // Malleable (high-S) signatures are allowed for service auth, as every atproto service does.
      return await verifySignature(key, data, sig, { jwtAlg: alg, allowMalleableSig: true });
    } catch {
      // A key of another algorithm than the header's, or an unreadable signature.
      throw bad("could not verify jwt signature", "BadJwtSignature");
    }
  };

  return {
    async verify(token, nsid) {
      const parts = token.split(".");
      if (parts.length !== 3) throw bad("poorly formatted jwt", "BadJwt");
      const header = decodePart(() => decodeProtectedHeader(token));
      if (typeof header.typ === "string" && FOREIGN_TYPES.includes(header.typ)) {
        throw bad(`Invalid jwt type "${header.typ.slice(0, 32)}"`, "BadJwtType");
      }
      const alg = header.alg ?? "";
      if (!ALGS.includes(alg)) throw bad("unsupported jwt algorithm", "BadJwtSignature");
      const claims = decodePart(() => decodeJwt(token));
      const { iss, aud, exp, lxm, jti } = claims;
      if (typeof iss !== "string" || typeof aud !== "string" || typeof exp !== "number") throw bad("poorly formatted jwt", "BadJwt");
      if (lxm !== undefined && typeof lxm !== "string") throw bad("poorly formatted jwt", "BadJwt");
      const nowSeconds = now() / 1000;
      if (nowSeconds > exp + CLOCK_SKEW_SECONDS) throw bad("jwt expired", "JwtExpired");
      if (exp - nowSeconds > MAX_LIFETIME_SECONDS) throw bad("jwt expiration is too far in the future", "BadJwt");
      if (aud !== deps.serviceDid) throw bad("jwt audience does not match service did", "BadJwtAudience");
      if (lxm === undefined) throw bad(`missing jwt lexicon method ("lxm"). must match: ${nsid}`, "BadJwtLexiconMethod");
      if (lxm !== nsid) throw bad(`bad jwt lexicon method ("lxm"). must match: ${nsid}`, "BadJwtLexiconMethod");
      if (!isAtprotoDidRef(iss)) throw bad("jwt iss is not a valid did", "BadJwtIss");
      if (typeof jti !== "string" || jti === "") throw bad("jwt has no jti", "BadJwt");

      const data = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
      const sig = new Uint8Array(Buffer.from(parts[2]!, "base64url"));
      const key = await issuerKey(iss, false);
      if (!(await signatureValid(key, alg, data, sig))) {
        // The issuer may have rotated its key since we cached the document.
        const fresh = await issuerKey(iss, true);
        if (fresh === key || !(await signatureValid(fresh, alg, data, sig))) {
          throw bad("jwt signature does not match jwt issuer", "BadJwtSignature");
        }
      }

      // Counted only for authentic tokens, so nobody can spend another's jti with a forged one.
      const ttl = Math.max(1, Math.ceil(exp + CLOCK_SKEW_SECONDS - nowSeconds));
      const uses = await deps.cache.incr(replayKey(iss, jti), 1, ttl);
      if (uses > 1) throw bad("jwt has already been used (jti replayed)", "BadJwt");
      return { iss, did: splitDidRef(iss)[0], aud, exp, lxm, jti };
    },
  };
}

const bad = (message: string, name: string) => new AuthRequiredError(message, name);

function decodePart<T>(decode: () => T): T {
  try {
    return decode();
  } catch {
    throw bad("poorly formatted jwt", "BadJwt");
  }
}

/** Bounded key whatever the token's lengths; iss and jti are hashed together. */
function replayKey(iss: string, jti: string): string {
  return `service-jti:${createHash("sha256").update(`${iss}\n${jti}`).digest("base64url")}`;
}
