import { createHash } from "node:crypto";
import { formatDidKey, SECP256K1_JWT_ALG, verifySignature } from "@atproto/crypto";
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, EmbeddedJWK, type JWK } from "jose";
import { XrpcError } from "@/errors";
import { invalidDpopProof, type OAuthError, useDpopNonce } from "./errors";
import type { DpopNonces } from "./nonce";
import type { ReplayStore } from "./replay";

/** What a verified DPoP proof (RFC 9449 §4.2) binds: the key, and the one request it was made for. */
export interface DpopProof {
  /** SHA-256 JWK thumbprint (RFC 7638) of the proof's key: what tokens are bound to (`cnf.jkt`). */
  jkt: string;
  jti: string;
  htm: string;
  htu: string;
  /** Unix seconds. */
  iat: number;
  nonce?: string;
}

export interface DpopVerifier {
  /**
   * Verifies the request's DPoP proof; null when the request has no `DPoP`
   * header. With `accessToken` (a resource server request), the proof's
   * `ath` must be that token's hash. Throws `use_dpop_nonce` (with a fresh
   * nonce in its headers) when the proof lacks a live server nonce, and
   * `invalid_dpop_proof` for every other fault, a replay included.
   */
  check(request: Request, opts: { accessToken?: string }): Promise<DpopProof | null>;
  /** The nonce to send now in the `DPoP-Nonce` header. */
  nonce(): string;
}

/** Asymmetric algorithms accepted for proofs: publish as `dpop_signing_alg_values_supported`. */
export const DPOP_ALGS: readonly string[] = [
  "ES256", "ES256K", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA", "Ed25519",
];
/** A proof older than this (by its `iat`) is refused. */
export const DPOP_MAX_AGE_SECONDS = 60;
/** Clock difference tolerated on top of the maximum age. */
const CLOCK_SKEW_SECONDS = 5;
/** How far in the future an `iat` may be. */
const MAX_FUTURE_SECONDS = 10;
/** A proof is accepted at most this long after it is first seen, so its `jti` is remembered that long. */
const REPLAY_TTL_SECONDS = DPOP_MAX_AGE_SECONDS + CLOCK_SKEW_SECONDS + MAX_FUTURE_SECONDS;
/** Longest proof read (an RSA-4096 key in the header is well under this). */
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
/** JWK members that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

/**
 * DPoP for the authorization server's endpoints and the resource server.
 * `htu` is checked against `publicUrl` + the request's path, never the Host
 * header: behind nginx a node sees its own address. Nonces come from
 * `nonces` and are always required; `jti`s are remembered in `replay`
 * (namespace "dpop") for as long as a proof would be accepted.
 */
export function createDpopVerifier(deps: {
  publicUrl: string;
  nonces: DpopNonces;
  replay: ReplayStore;
  now?: () => number;
}): DpopVerifier {
  const now = deps.now ?? Date.now;
  const base = deps.publicUrl.replace(/\/+$/, "");
  if (!URL.canParse(base)) throw new Error(`DPoP verifier: publicUrl is not a URL: ${deps.publicUrl}`);

  return {
    nonce: () => deps.nonces.current(),
    async check(request, opts) {
      const value = request.headers.get("dpop");
      if (value === null) return null;
      // Repeated headers arrive joined by ", "; a compact JWS has neither character.
      if (value.includes(",")) throw invalidDpopProof("Exactly one DPoP header is allowed");
      const proof = value.trim();
      if (proof.length > MAX_PROOF_LENGTH) throw invalidDpopProof("DPoP proof is too long");

      const { jwk, payload } = await verifySigned(proof);
      const claims = readClaims(payload, now() / 1000);

      if (claims.htm !== request.method) throw invalidDpopProof(`DPoP htm "${claims.htm.slice(0, 16)}" does not match the request method ${request.method}`);
      const expected = normalisedHtu(base + new URL(request.url).pathname);
      if (normalisedHtu(claims.htu) !== expected) throw invalidDpopProof(`DPoP htu does not match the request URL (expected ${expected})`);
      if (opts.accessToken !== undefined) {
        if (payload.ath === undefined) throw invalidDpopProof("DPoP proof has no ath (access token hash)");
        if (payload.ath !== createHash("sha256").update(opts.accessToken).digest("base64url")) {
          throw invalidDpopProof("DPoP ath does not match the access token");
        }
      }
      const nonce = payload.nonce;
      if (nonce === undefined) throw useDpopNonce(deps.nonces.current(), "DPoP proof must carry the server's nonce");
      if (typeof nonce !== "string" || !deps.nonces.isValid(nonce)) {
        throw useDpopNonce(deps.nonces.current(), "DPoP nonce is expired or unknown");
      }

      const jkt = await calculateJwkThumbprint(jwk, "sha256");
      // Last, so only proofs that passed every other check spend their jti.
      if (!(await deps.replay.unique("dpop", `${jkt}:${claims.jti}`, REPLAY_TTL_SECONDS))) {
        throw invalidDpopProof("DPoP proof replayed");
      }
      return { jkt, ...claims, nonce };
    },
  };
}

/**
 * The XRPC refusal a resource server sends for a DPoP fault (RFC 9449 §7.1):
 * 401 with `WWW-Authenticate: DPoP error=...` and a fresh `DPoP-Nonce`, which
 * @atproto/oauth-client reads to retry once on `use_dpop_nonce`.
 */
export function resourceServerError(err: OAuthError, nonce: string): XrpcError {
  const refusal = new XrpcError(401, err.error, err.message);
  refusal.responseHeaders = {
    "WWW-Authenticate": `DPoP error="${quoted(err.error)}", error_description="${quoted(err.message)}"`,
    "DPoP-Nonce": nonce,
  };
  return refusal;
}

/** Inside a quoted-string: backslash and quote escaped, anything outside printable ASCII made a space. */
function quoted(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, " ").replace(/["\\]/g, (c) => `\\${c}`);
}

/** Checks the header and the signature by the key the header carries; returns that key and the payload. */
async function verifySigned(proof: string): Promise<{ jwk: JWK; payload: Record<string, unknown> }> {
  const parts = proof.split(".");
  if (parts.length !== 3) throw invalidDpopProof("DPoP proof is not a compact JWS");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalidDpopProof("DPoP proof header is unreadable");
  }
  if (header.typ !== "dpop+jwt") throw invalidDpopProof('DPoP proof typ must be "dpop+jwt"');
  const alg = header.alg;
  if (typeof alg !== "string" || !DPOP_ALGS.includes(alg)) throw invalidDpopProof(`DPoP proof alg must be one of ${DPOP_ALGS.join(", ")}`);
  const jwk = header.jwk;
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw invalidDpopProof("DPoP proof header has no jwk");
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw invalidDpopProof("DPoP proof jwk must be a public key");

  let signed: Uint8Array;
  if (alg === SECP256K1_JWT_ALG) {
    // jose 6 runs on WebCrypto, which has no secp256k1: @atproto/crypto checks these.
    await verifyK256(jwk, parts);
    signed = Buffer.from(parts[1]!, "base64url");
  } else {
    try {
      signed = (await compactVerify(proof, EmbeddedJWK, { algorithms: [...DPOP_ALGS] })).payload;
    } catch {
      throw invalidDpopProof("DPoP proof signature is invalid");
    }
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(signed));
  } catch {
    throw invalidDpopProof("DPoP proof payload is not JSON");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) throw invalidDpopProof("DPoP proof payload is not a JSON object");
  return { jwk, payload: payload as Record<string, unknown> };
}

async function verifyK256(jwk: JWK, parts: string[]): Promise<void> {
  if (jwk.kty !== "EC" || jwk.crv !== "secp256k1" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
    throw invalidDpopProof("DPoP proof jwk does not fit ES256K");
  }
  if ((jwk.use !== undefined && jwk.use !== "sig") || (jwk.alg !== undefined && jwk.alg !== SECP256K1_JWT_ALG)) {
    throw invalidDpopProof("DPoP proof jwk does not fit ES256K");
  }
  const x = Buffer.from(jwk.x, "base64url");
  const y = Buffer.from(jwk.y, "base64url");
  const sig = Buffer.from(parts[2]!, "base64url");
  let valid = false;
  if (x.length === 32 && y.length === 32 && sig.length === 64) {
    try {
      const didKey = formatDidKey(SECP256K1_JWT_ALG, Buffer.concat([Buffer.from([4]), x, y]));
      const data = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
      // High-S signatures are fine here: replays are caught by jti, not by signature bytes.
      valid = await verifySignature(didKey, data, sig, { jwtAlg: SECP256K1_JWT_ALG, allowMalleableSig: true });
    } catch {
      valid = false;
    }
  }
  if (!valid) throw invalidDpopProof("DPoP proof signature is invalid");
}

/** The claims every proof must have, checked for type, bounds and freshness at `nowSeconds`. */
function readClaims(payload: Record<string, unknown>, nowSeconds: number): Omit<DpopProof, "jkt" | "nonce"> {
  const { jti, htm, htu, iat } = payload;
  if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_LENGTH) {
    throw invalidDpopProof(`DPoP proof jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
  }
  if (typeof htm !== "string") throw invalidDpopProof("DPoP proof has no htm");
  if (typeof htu !== "string") throw invalidDpopProof("DPoP proof has no htu");
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw invalidDpopProof("DPoP proof has no iat");
  if (iat < nowSeconds - DPOP_MAX_AGE_SECONDS - CLOCK_SKEW_SECONDS) throw invalidDpopProof("DPoP proof is too old (iat)");
  if (iat > nowSeconds + MAX_FUTURE_SECONDS) throw invalidDpopProof("DPoP proof iat is in the future");
  return { jti, htm, htu, iat };
}

/** Origin and path only (RFC 9449 §4.3: no query, no fragment), as the URL parser normalises them. */
function normalisedHtu(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidDpopProof("DPoP htu is not a URL");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw invalidDpopProof("DPoP htu must be an http(s) URL");
  return `${parsed.origin}${parsed.pathname}`;
}
