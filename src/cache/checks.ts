import { PluginError } from "@/errors";

/**
 * Argument checks shared by every cache backend, so a caller's mistake fails
 * the same way on memory and on Redis (and before any network round trip).
 */

/** `ttlSeconds` as whole milliseconds (at least 1); throws unless it is a finite number > 0. */
export function ttlToMs(plugin: string, ttlSeconds: number): number {
  if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) {
    throw new PluginError(plugin, `ttlSeconds must be a finite number > 0, got ${ttlSeconds}`);
  }
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

/** An empty prefix would wipe the whole cache, rate-limit state included: refuse it. */
export function checkPrefix(plugin: string, prefix: string): void {
  if (typeof prefix !== "string" || prefix.length === 0) {
    throw new PluginError(plugin, "deletePrefix needs a non-empty prefix");
  }
}

/** Redis INCRBY takes 64-bit integers only; keep memory to the same rule. */
export function checkIncrement(plugin: string, by: number): void {
  if (!Number.isSafeInteger(by)) throw new PluginError(plugin, `incr needs an integer increment, got ${by}`);
}
