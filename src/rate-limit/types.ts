/** The three algorithms of the Scalability Guide; each runs on the local and on the distributed store. */
export const ALGORITHMS = ["fixed-window", "token-bucket", "sliding-log"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/**
 * What a rule counts by:
 * - `ip`: the client IP;
 * - `did`: the caller's DID (the rule is skipped for callers without one: they fail auth anyway);
 * - `did-ip`: DID and client IP together;
 * - `identifier-ip`: the `identifier` of the JSON body (createSession) and the client IP;
 * - `email-ip`: the `email` of the JSON body and the client IP;
 * - `email`: the `email` of the JSON body alone (requestPasswordReset per account, whether or not one has it).
 */
export const KEY_KINDS = ["ip", "did", "did-ip", "identifier-ip", "email-ip", "email"] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

/** At most `limit` points per `windowMs`. */
export interface LimitSpec {
  readonly limit: number;
  readonly windowMs: number;
  readonly algorithm: Algorithm;
}

/** A named rule: one or more limits on the same key (e.g. 30 per 5 minutes and 300 per day). */
export interface RuleSpec {
  readonly key: KeyKind;
  readonly limits: readonly LimitSpec[];
}

/** A route's use of a rule: each request costs `points` of it. */
export interface RouteRule {
  readonly rule: string;
  readonly points: number;
}

/** The caller as far as rate limiting cares: decided cheaply, before any handler runs. */
export type Caller = { readonly kind: "admin" } | { readonly kind: "user"; readonly did: string } | null;

/** One limit's state after a request was counted against it (or refused). */
export interface LimitStatus {
  readonly allowed: boolean;
  readonly limit: number;
  readonly windowMs: number;
  /** Points left in the current window after this request. */
  readonly remaining: number;
  /** Milliseconds until the limit is whole again. */
  readonly resetMs: number;
  /** Milliseconds until a refused request could pass; 0 when allowed. */
  readonly retryMs: number;
}
