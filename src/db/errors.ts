import { PluginError } from "@/errors";

/**
 * Why a database call failed, as far as callers care:
 * - `unavailable`: cannot reach the database, or it is starting/stopping;
 * - `busy`: a lock or the single SQLite writer was not free in time;
 * - `unique`: a unique constraint refused a duplicate;
 * - `invalid`: the database refused a value it cannot store (PostgreSQL's
 *   data exceptions, e.g. a NUL byte in text): inputs are validated before
 *   they reach SQL, so this is the safety net for one that slipped through;
 * - `query`: anything else (a bug, a constraint).
 * `unavailable` and `busy` are transient: the HTTP layer answers 503;
 * `invalid` is the client's value: 400 InvalidRequest.
 */
export type DbErrorReason = "unavailable" | "busy" | "unique" | "invalid" | "query";

/** The one error type database plugins throw; `cause` is the driver's error. */
export class DbError extends PluginError {
  constructor(
    plugin: string,
    readonly reason: DbErrorReason,
    message: string,
    cause?: unknown,
  ) {
    super(plugin, message, { cause, unavailable: reason === "unavailable" || reason === "busy" });
    this.name = "DbError";
  }
}

/** A unique constraint refused the write, e.g. a handle or email already taken. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof DbError && err.reason === "unique";
}

const MESSAGES: Record<DbErrorReason, string> = {
  unavailable: "database unavailable",
  busy: "database busy",
  unique: "duplicate key",
  invalid: "value refused",
  query: "query failed",
};

/**
 * Wrap a driver error once: errors that are already `PluginError`s (or our
 * own, thrown by callers inside a transaction) pass through unchanged.
 */
export function toDbError(plugin: string, err: unknown, classify: (err: unknown) => DbErrorReason): unknown {
  if (err instanceof PluginError) return err;
  const reason = classify(err);
  const detail = err instanceof Error ? err.message : String(err);
  return new DbError(plugin, reason, `${MESSAGES[reason]}: ${detail}`, err);
}
