import type { CachePlugin } from "@/contracts/cache";
import { PluginError } from "@/errors";
import type { Logger } from "@/log";
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
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  private degradedSince: number | undefined;

  constructor(
    private readonly local: CachePlugin,
    private readonly shared: CachePlugin | undefined,
    private readonly log: Logger,
    private readonly metrics: RateLimitMetrics,
    private readonly warnIntervalMs = 30_000,
  ) {}

  /** Count `cost` points of `key` against one limit. */
  async consume(spec: LimitSpec, key: string, cost: number): Promise<LimitStatus> {
    const script = LIMIT_SCRIPTS[spec.algorithm];
    const keys = [`rl:${ALGORITHM_TAGS[spec.algorithm]}:${spec.windowMs}:${key}`];
    const args = [spec.limit, spec.windowMs, cost];
    let reply;
    if (this.shared) {
      try {
        reply = await this.shared.atomic(script, keys, args);
        if (this.degradedSince !== undefined) this.recovered();
      } catch (err) {
        if (!(err instanceof PluginError) || !err.unavailable) throw err;
        this.fellBack(err);
        reply = await this.local.atomic(script, keys, args);
      }
    } else {
      reply = await this.local.atomic(script, keys, args);
    }
    const [allowed, remaining, resetMs, retryMs] = reply;
    return { allowed: allowed === 1, limit: spec.limit, windowMs: spec.windowMs, remaining, resetMs, retryMs };
  }

  private fellBack(err: Error): void {
    this.metrics.fallbacks.inc();
    const now = Date.now();
    this.degradedSince ??= now;
    if (now - this.lastWarnAt < this.warnIntervalMs) {
      this.suppressed++;
      return;
    }
    this.log.warn("distributed rate limiting unavailable: limits are counted per node until the shared store is back", {
      error: err.message,
      suppressedSinceLastWarning: this.suppressed,
    });
    this.lastWarnAt = now;
    this.suppressed = 0;
  }

  private recovered(): void {
    this.log.info("distributed rate limiting restored", { degradedForMs: Date.now() - (this.degradedSince ?? Date.now()) });
    this.degradedSince = undefined;
  }
}
