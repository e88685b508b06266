import type { AppContext } from "@/app-context";
import { withTimeout } from "@/util/with-timeout";

const CHECK_TIMEOUT_MS = 3000;

export interface ReadinessReport {
  status: "ok" | "unavailable";
  /** Per backend: "ok" or "unavailable" (the reason goes to the log: hosts and ports stay private). */
  checks: Record<string, string>;
}

/** Ask every configured backend whether it can serve, in parallel, each bounded in time. */
export async function checkReadiness(ctx: AppContext): Promise<ReadinessReport> {
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
