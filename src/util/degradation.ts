import type { LogFields, Logger } from "@/log";

/**
 * How a dependency's outage looks to an operator: one warning per interval
 * while it is down (one per request would flood the log exactly when things
 * are bad; the skipped ones are counted in the next), and one line when it
 * works again, saying for how long it did not.
 */
export interface Degradation {
  /** The dependency failed (again). */
  failed(err: Error, fields?: LogFields): void;
  /** The dependency worked; logs the recovery once after a failure. */
  succeeded(): void;
  readonly degraded: boolean;
}

export function createDegradation(
  log: Logger,
  opts: { warnIntervalMs: number; down: string; restored: string; now?: () => number },
): Degradation {
  const now = opts.now ?? Date.now;
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  let since: number | undefined;
  return {
    get degraded() {
      return since !== undefined;
    },
    failed(err, fields) {
      const at = now();
      since ??= at;
      if (at - lastWarnAt < opts.warnIntervalMs) {
        suppressed++;
        return;
      }
      log.warn(opts.down, { ...fields, error: err.message, suppressedSinceLastWarning: suppressed });
      lastWarnAt = at;
      suppressed = 0;
    },
    succeeded() {
      if (since === undefined) return;
      log.info(opts.restored, { degradedForMs: now() - since });
      since = undefined;
    },
  };
}
