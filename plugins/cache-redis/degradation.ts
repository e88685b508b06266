import { Counter, type Registry } from "prom-client";
import { type Degradation as KitDegradation, type Logger, createDegradation } from "@/plugin-kit";

export const DEGRADED_METRIC = "aurora_cache_degraded_total";

/** Every cache operation, so each label exists (at 0) before the first outage. */
export const OPERATIONS = ["get", "set", "delete", "deletePrefix", "incr", "atomic", "publish", "subscribe"] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * What an outage looks like to an operator: a counter per degraded
 * operation, plus the kit's warn-once-per-interval log and one line when
 * Redis is back.
 */
export class Degradation {
  private readonly counter: Counter<"operation">;
  private readonly state: KitDegradation;

  constructor(log: Logger, metrics: Registry, warnIntervalMs: number) {
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
    this.state = createDegradation(log, {
      warnIntervalMs,
      down: "redis unreachable: cache reads miss, writes are dropped, counters and scripts refuse",
      restored: "redis reachable again; shared cache in use",
    });
  }

  /** An operation ran without Redis. */
  operation(operation: Operation, err: Error): void {
    this.counter.inc({ operation });
    this.state.failed(err, { operation });
  }

  /** A connection-level error (refused reconnects): logged under the same limit, not counted. */
  connection(err: Error): void {
    this.state.failed(err);
  }

  recovered(): void {
    this.state.succeeded();
  }
}
