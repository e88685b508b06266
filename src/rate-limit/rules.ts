import type { RouteRule, RuleSpec } from "./types";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Tier limits (RATE_LIMIT_AUTHENTICATED / _UNAUTHENTICATED / _ADMIN) are per minute, as the guide states them. */
export const TIER_WINDOW_MS = MINUTE;

/** The reference's limits of the methods that mail an account: 5 an hour and 15 a day per account. */
const mailPerAccount = (key: RuleSpec["key"]): RuleSpec => ({
  key,
  limits: [
    { limit: 5, windowMs: HOUR, algorithm: "sliding-log" },
    { limit: 15, windowMs: DAY, algorithm: "sliding-log" },
  ],
});

/** And per client IP (the reference's requestPasswordReset limit): one address mailing many accounts. */
const mailPerIp: RuleSpec = {
  key: "ip",
  limits: [
    { limit: 15, windowMs: HOUR, algorithm: "sliding-log" },
    { limit: 50, windowMs: DAY, algorithm: "sliding-log" },
  ],
};

/**
 * The reference PDS's per-route limits, by rule name. Strict, low limits
 * use the exact sliding log; write budgets use token buckets (bursts, then
 * a steady rate). `aurora.config.ts` `rateLimit.rules` replaces a rule by
 * name or adds one.
 */
export const DEFAULT_RULES: Readonly<Record<string, RuleSpec>> = {
  "create-session": {
    key: "identifier-ip",
    limits: [
      { limit: 30, windowMs: 5 * MINUTE, algorithm: "sliding-log" },
      { limit: 300, windowMs: DAY, algorithm: "sliding-log" },
    ],
  },
  /**
   * Failed log-ins per client IP, whatever the identifier (spent by the
   * createSession handler, refunded when the password checks out): the
   * identifier-keyed rule above lets one IP hash without end by trying a new
   * identifier each time. 30 matches the reference's 30 attempts per 5
   * minutes per identifier, but counts failures only, so a shared address
   * (NAT) with many correct log-ins is unaffected; the bucket refills one
   * failure per 10 s, so one IP costs at most ~6 failed checks a minute.
   * Refunds need fixed-window or token-bucket (checked at start-up).
   */
  "login-failures": { key: "ip", limits: [{ limit: 30, windowMs: 5 * MINUTE, algorithm: "token-bucket" }] },
  "create-account": { key: "ip", limits: [{ limit: 100, windowMs: 5 * MINUTE, algorithm: "sliding-log" }] },
  /** Points: create 3, update 2, delete 1 (REPO_WRITE_POINTS). */
  "repo-write": {
    key: "did",
    limits: [
      { limit: 5000, windowMs: HOUR, algorithm: "token-bucket" },
      { limit: 35_000, windowMs: DAY, algorithm: "token-bucket" },
    ],
  },
  "upload-blob": { key: "did-ip", limits: [{ limit: 1000, windowMs: DAY, algorithm: "token-bucket" }] },
  "update-handle": {
    key: "did",
    limits: [
      { limit: 10, windowMs: 5 * MINUTE, algorithm: "sliding-log" },
      { limit: 50, windowMs: DAY, algorithm: "sliding-log" },
    ],
  },
  "request-password-reset": mailPerIp,
  "reset-password": { key: "ip", limits: [{ limit: 50, windowMs: 5 * MINUTE, algorithm: "sliding-log" }] },
  /**
   * Per account, as the reference counts requestPasswordReset per IP: by the address asked for, known
   * or not, so the limit applies the same to both and says nothing about which addresses have accounts.
   */
  "request-password-reset-email": mailPerAccount("email"),
  /** The reference's per-account limits of requestEmailConfirmation and requestEmailUpdate. */
  "request-email-confirmation": mailPerAccount("did"),
  "request-email-update": mailPerAccount("did"),
  /** One address asking mail for many accounts (both request-email methods together). */
  "request-email-ip": mailPerIp,
  /** The reference's per-account limits; the per-IP rule bounds one address mailing many accounts. */
  "request-account-delete": mailPerAccount("did"),
  "request-account-delete-ip": mailPerIp,
  /** requestPlcOperationSignature mails a code like the methods above; the same limits, per account and per IP. */
  "request-plc-operation": mailPerAccount("did"),
  "request-plc-operation-ip": mailPerIp,
  "delete-account": { key: "ip", limits: [{ limit: 50, windowMs: 5 * MINUTE, algorithm: "sliding-log" }] },
};

/** Points a repository write costs against `repo-write`, as in the reference PDS. */
export const REPO_WRITE_POINTS = { create: 3, update: 2, delete: 1 } as const;

/**
 * Which rules each XRPC method counts against, applied before the handler
 * runs. `com.atproto.repo.applyWrites` is absent on purpose: its cost is
 * the sum of its writes, so its handler calls
 * `ctx.rateLimits.consumePoints("repo-write", did, repoWritePoints(writes))`.
 * `aurora.config.ts` `rateLimit.routes` replaces a method's list (`[]` lifts its limits).
 */
export const DEFAULT_ROUTES: Readonly<Record<string, readonly RouteRule[]>> = {
  "com.atproto.identity.requestPlcOperationSignature": [
    { rule: "request-plc-operation", points: 1 },
    { rule: "request-plc-operation-ip", points: 1 },
  ],
  "com.atproto.identity.updateHandle": [{ rule: "update-handle", points: 1 }],
  "com.atproto.repo.createRecord": [{ rule: "repo-write", points: REPO_WRITE_POINTS.create }],
  "com.atproto.repo.deleteRecord": [{ rule: "repo-write", points: REPO_WRITE_POINTS.delete }],
  "com.atproto.repo.putRecord": [{ rule: "repo-write", points: REPO_WRITE_POINTS.update }],
  "com.atproto.repo.uploadBlob": [{ rule: "upload-blob", points: 1 }],
  "com.atproto.server.createAccount": [{ rule: "create-account", points: 1 }],
  "com.atproto.server.createSession": [{ rule: "create-session", points: 1 }],
  "com.atproto.server.deleteAccount": [{ rule: "delete-account", points: 1 }],
  "com.atproto.server.requestAccountDelete": [
    { rule: "request-account-delete", points: 1 },
    { rule: "request-account-delete-ip", points: 1 },
  ],
  "com.atproto.server.requestEmailConfirmation": [
    { rule: "request-email-confirmation", points: 1 },
    { rule: "request-email-ip", points: 1 },
  ],
  "com.atproto.server.requestEmailUpdate": [
    { rule: "request-email-update", points: 1 },
    { rule: "request-email-ip", points: 1 },
  ],
  "com.atproto.server.requestPasswordReset": [
    { rule: "request-password-reset", points: 1 },
    { rule: "request-password-reset-email", points: 1 },
  ],
  // Anyone may reserve keys (as in the reference); each stores a row, so they count like sign-ups.
  "com.atproto.server.reserveSigningKey": [{ rule: "create-account", points: 1 }],
  "com.atproto.server.resetPassword": [{ rule: "reset-password", points: 1 }],
};

/** The `repo-write` cost of an applyWrites call: the sum over its writes, by `$type` (`...#create`, `#update`, `#delete`). */
export function repoWritePoints(writes: readonly { readonly $type?: string }[]): number {
  let points = 0;
  for (const write of writes) {
    const action = write.$type?.slice(write.$type.lastIndexOf("#") + 1);
    points += action === "create" ? REPO_WRITE_POINTS.create : action === "update" ? REPO_WRITE_POINTS.update : REPO_WRITE_POINTS.delete;
  }
  return points;
}
