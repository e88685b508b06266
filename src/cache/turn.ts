import type { CachePlugin } from "@/contracts/cache";

/**
 * Whether this caller gets the turn for `key`: true for the first caller per
 * `ttlSeconds` across every node sharing `cache` (an atomic incr on a key
 * that expires), false for the rest. Jobs that must run once per interval
 * cluster-wide (sweeps, relay notifications) ask before running. When the
 * cache cannot answer the turn is taken: these jobs are idempotent, so
 * running on two nodes beats not running at all.
 */
export async function takeTurn(cache: CachePlugin, key: string, ttlSeconds: number): Promise<boolean> {
  try {
    return (await cache.incr(`turn:${key}`, 1, ttlSeconds)) === 1;
  } catch {
    return true;
  }
}
