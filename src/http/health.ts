import type { AppContext } from "@/app-context";
import { withTimeout } from "@/util/with-timeout";

const CHECK_TIMEOUT_MS = 3000;

export interface ReadinessReport {
  status: "ok" | "unavailable";
  /** Per backend: "ok" or "unavailable" (the reason goes to the log: hosts and ports stay private). */
  checks: Record<string, string>;
}

/**
 * How long one readiness answer is reused. Load balancers probe every node
 * every second or two; without this each probe would be a round trip to
 * every backend (an S3 request per probe per node).
 */
export const READINESS_CACHE_MS = 2000;

interface Cached {
  report: Promise<ReadinessReport>;
  /** When the check finished; undefined while it runs. */
  doneAt?: number;
}

const cache = new WeakMap<AppContext, Cached>();

/**
 * Whether every configured backend can serve: a fresh check at most every
 * READINESS_CACHE_MS (failures included), and concurrent probes wait for the
 * same check instead of starting their own.
 */
export function checkReadiness(ctx: AppContext): Promise<ReadinessReport> {
  const cached = cache.get(ctx);
  if (cached && (cached.doneAt === undefined || Date.now() - cached.doneAt < READINESS_CACHE_MS)) return cached.report;
  const entry: Cached = { report: checkBackends(ctx) };
  entry.report.finally(() => {
    entry.doneAt = Date.now();
  });
  cache.set(ctx, entry);
  return entry.report;
}

/** Ask every configured backend whether it can serve, in parallel, each bounded in time. */
async function checkBackends(ctx: AppContext): Promise<ReadinessReport> {
  const plugins = [ctx.db, ctx.blobs, ctx.cache];
  const results = await Promise.all(
    plugins.map(async (p) => {
      try {
        await withTimeout(p.health(), CHECK_TIMEOUT_MS);
        return [p.name, "ok"] as const;
      } catch (err) {
        ctx.log.warn("readiness check failed", { plugin: p.name, reason: (err as Error).message });
        return [p.name, "unavailable"] as const;
      }
    }),
  );
  const checks = Object.fromEntries(results);
  return { status: results.every(([, r]) => r === "ok") ? "ok" : "unavailable", checks };
}
