import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Server-issued DPoP nonces (RFC 9449 §8) that every node can mint and check
 * without shared storage: a nonce is the MAC of the current time step under a
 * key derived from the server secret, so any node with the same secret and a
 * roughly synchronised clock agrees on which nonces are live.
 */
export interface DpopNonces {
  /** The nonce of the current time step: what to send in `DPoP-Nonce` now. */
  current(): string;
  /** True for the nonce of the previous, current or next step (clock drift between nodes and client latency). */
  isValid(nonce: string): boolean;
}

/** Default length of a time step: a nonce stays acceptable for two to three of them. */
export const DPOP_NONCE_STEP_MS = 60_000;

/** Label of the key derivation, so the nonce key is never the secret itself nor any other key made from it. */
const KEY_LABEL = "aurora oauth dpop-nonce v1";
/** base64url of a 32-byte HMAC-SHA256: anything else is refused before computing anything. */
const NONCE_LENGTH = 43;

/**
 * Nonces from `secret` (e.g. `config.secrets.jwtSecret`). `stepMs` is the
 * rotation period (@default 60000); `now` the clock in epoch milliseconds
 * (@default Date.now), replaceable in tests.
 */
export function createDpopNonces(secret: string, opts: { stepMs?: number; now?: () => number } = {}): DpopNonces {
  if (secret === "") throw new Error("DPoP nonces need a non-empty secret");
  const stepMs = opts.stepMs ?? DPOP_NONCE_STEP_MS;
  if (!Number.isSafeInteger(stepMs) || stepMs <= 0) throw new Error(`DPoP nonce step must be a positive integer of ms, got ${stepMs}`);
  const now = opts.now ?? Date.now;
  const key = createHmac("sha256", secret).update(KEY_LABEL).digest();

  const forStep = (step: number): Buffer => createHmac("sha256", key).update(String(step)).digest();
  const step = () => Math.floor(now() / stepMs);

  return {
    current: () => forStep(step()).toString("base64url"),
    isValid(nonce) {
      if (typeof nonce !== "string" || nonce.length !== NONCE_LENGTH || !/^[A-Za-z0-9_-]+$/.test(nonce)) return false;
      const given = Buffer.from(nonce, "base64url");
      // A 43-character string can carry stray low bits; the canonical form must round-trip.
      if (given.length !== 32 || given.toString("base64url") !== nonce) return false;
      const s = step();
      let ok = false;
      // Every candidate is compared (no early exit), so timing says nothing about which step matched.
      for (const candidate of [s - 1, s, s + 1]) ok = timingSafeEqual(given, forStep(candidate)) || ok;
      return ok;
    },
  };
}
