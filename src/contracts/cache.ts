import type { Plugin } from "./plugin";

/**
 * Cache backend: the built-in memory cache (src/cache/memory.ts) or
 * plugins/cache-redis. Values are strings; callers serialise.
 */
export interface CachePlugin extends Plugin<"cache"> {
  /** Entries written on one node are seen by every node. */
  readonly shared: boolean;
  get(key: string): Promise<string | null>;
  /** `ttlSeconds` > 0; entries expire after it. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}
