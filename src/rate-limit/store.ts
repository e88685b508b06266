import type { CachePlugin } from "@/contracts/cache";
import { PluginError } from "@/errors";
import type { Logger } from "@/log";
import { type Degradation, createDegradation } from "@/util/degradation";
import { ALGORITHM_TAGS, LIMIT_SCRIPTS } from "./algorithms";
import type { RateLimitMetrics } from "./metrics";
import type { LimitSpec, LimitStatus } from "./types";

/**
 * Where limit state lives: the shared cache (Redis) when limits are
 * distributed, else a memory cache owned by the limiter. Both run the same
 * scripts. When the shared cache is unreachable (`atomic` throws an
 * unavailable PluginError) the check runs on the local store instead:
 * limits become per node for the outage rather than failing requests. That
 * is counted on every call and warned about at most once per
 * `warnIntervalMs`; the first success afterwards is logged once.
 */
export class LimitStore {
  private readonly degradation: Degradation;

  constructor(
    private readonly local: CachePlugin,
    private readonly shared: CachePlugin | undefined,
    log: Logger,
    private readonly metrics: RateLimitMetrics,
    warnIntervalMs = 30_000,
  ) {
    this.degradation = createDegradation(log, {
      warnIntervalMs,
      down: "distributed rate limiting unavailable: limits are counted per node until the shared store is back",
      restored: "distributed rate limiting restored",
    });
  }

  /** Count `cost` points of `key` against one limit. */
  async consume(spec: LimitSpec, key: string, cost: number): Promise<LimitStatus> {
    const script = LIMIT_SCRIPTS[spec.algorithm];
    const keys = [`rl:${ALGORITHM_TAGS[spec.algorithm]}:${spec.windowMs}:${key}`];
    const args = [spec.limit, spec.windowMs, cost];
    let reply;
    if (this.shared) {
      try {
        reply = await this.shared.atomic(script, keys, args);
        this.degradation.succeeded();
      } catch (err) {
        if (!(err instanceof PluginError) || !err.unavailable) throw err;
        this.metrics.fallbacks.inc();
        this.degradation.failed(err);
        reply = await this.local.atomic(script, keys, args);
      }
    } else {
      reply = await this.local.atomic(script, keys, args);
    }
    const [allowed, remaining, resetMs, retryMs] = reply;
    return { allowed: allowed === 1, limit: spec.limit, windowMs: spec.windowMs, remaining, resetMs, retryMs };
  }

  /** Drop the state of `key` against one limit (every key starting with it when `prefix`), in both stores. */
  async forget(spec: LimitSpec, key: string, prefix = false): Promise<void> {
    const full = `rl:${ALGORITHM_TAGS[spec.algorithm]}:${spec.windowMs}:${key}`;
    for (const cache of [this.local, this.shared]) if (cache) await (prefix ? cache.deletePrefix(full) : cache.delete(full));
  }
}
