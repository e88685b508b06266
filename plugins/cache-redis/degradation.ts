import { Counter, type Registry } from "prom-client";
import type { Logger } from "@/log";

export const DEGRADED_METRIC = "aurora_cache_degraded_total";

/** Every cache operation, so each label exists (at 0) before the first outage. */
export const OPERATIONS = ["get", "set", "delete", "deletePrefix", "incr", "atomic", "publish", "subscribe"] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * What an outage looks like to an operator: one warning per interval (not
 * one per request, which would flood the log exactly when things are bad),
 * a counter per degraded operation, and one line when Redis is back.
 */
export class Degradation {
  private readonly counter: Counter<"operation">;
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  private downSince: number | undefined;

  constructor(
    private readonly log: Logger,
    metrics: Registry,
    private readonly warnIntervalMs: number,
  ) {
    // Two Redis caches on one registry (tests, a future second cache) share the series.
    this.counter =
      (metrics.getSingleMetric(DEGRADED_METRIC) as Counter<"operation"> | undefined) ??
      new Counter({
        name: DEGRADED_METRIC,
        help: "Cache operations served without Redis (reads missed, writes dropped, counters refused) because it was unreachable",
        labelNames: ["operation"],
        registers: [metrics],
      });
    for (const operation of OPERATIONS) this.counter.inc({ operation }, 0);
  }

  /** An operation ran without Redis. */
  operation(operation: Operation, err: Error): void {
    this.counter.inc({ operation });
    this.problem(err, operation);
  }

  /** A connection-level error (refused reconnects): logged under the same limit, not counted. */
  connection(err: Error): void {
    this.problem(err);
  }

  recovered(): void {
    if (this.downSince === undefined) return;
    this.log.info("redis reachable again; shared cache in use", { downForMs: Date.now() - this.downSince });
    this.downSince = undefined;
  }

  private problem(err: Error, operation?: Operation): void {
    const now = Date.now();
    this.downSince ??= now;
    if (now - this.lastWarnAt < this.warnIntervalMs) {
      this.suppressed++;
      return;
    }
    this.log.warn("redis unreachable: cache reads miss, writes are dropped, counters and scripts refuse", {
      operation,
      error: err.message,
      suppressedSinceLastWarning: this.suppressed,
    });
    this.lastWarnAt = now;
    this.suppressed = 0;
  }
}
