import type { AppContext } from "@/context";

const CHECK_TIMEOUT_MS = 3000;

export interface ReadinessReport {
  status: "ok" | "unavailable";
  /** Per backend: "ok", or why it cannot serve. */
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
        return [p.name, (err as Error).message] as const;
      }
    }),
  );
  const checks = Object.fromEntries(results);
  return { status: results.every(([, r]) => r === "ok") ? "ok" : "unavailable", checks };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
