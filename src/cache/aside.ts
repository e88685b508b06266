import { Counter, Gauge, type Registry } from "prom-client";
import type { ResolvedConfig } from "@/config/resolve";
import type { CachePlugin } from "@/contracts/cache";

/** The Scalability Guide's cache categories; each has its own TTL and metric label. */
export type CacheCategory = "did:doc" | "did:handle" | "session" | "repo" | "default";

export interface CacheAside {
  /**
   * Cache-aside read: the cached value when there is one, else `load()`,
   * stored for the category's TTL. `null` results are not cached. Values are
   * JSON. A cache that fails is a miss (the cache plugins degrade on their own).
   */
  get<T>(category: CacheCategory, key: string, load: () => Promise<T | null>): Promise<T | null>;
  /** Drop one entry; with a shared cache (Redis) every node sees it gone. */
  invalidate(category: CacheCategory, key: string): Promise<void>;
}

/** Cache-aside over the cache slot, with hit/miss/hit-rate metrics per category. */
export function createCacheAside(cache: CachePlugin, caching: ResolvedConfig["caching"], registry: Registry): CacheAside {
  const ttl: Record<CacheCategory, number> = {
    "did:doc": caching.didDocTtl,
    "did:handle": caching.handleTtl,
    session: caching.sessionTtl,
    repo: caching.repoTtl,
    default: caching.defaultTtl,
  };
  const hits = new Counter({
    name: "aurora_cache_hits_total",
    help: "Cache-aside reads answered from the cache, by category",
    labelNames: ["category"],
    registers: [registry],
  });
  const misses = new Counter({
    name: "aurora_cache_misses_total",
    help: "Cache-aside reads that went to the source, by category",
    labelNames: ["category"],
    registers: [registry],
  });
  const counts = new Map<CacheCategory, { hits: number; misses: number }>();
  const count = (category: CacheCategory, hit: boolean) => {
    const c = counts.get(category) ?? { hits: 0, misses: 0 };
    if (hit) c.hits++;
    else c.misses++;
    counts.set(category, c);
    (hit ? hits : misses).inc({ category });
  };
  new Gauge({
    name: "aurora_cache_hit_rate",
    help: "Share of cache-aside reads answered from the cache since start, by category",
    labelNames: ["category"],
    registers: [registry],
    collect() {
      for (const [category, c] of counts) this.set({ category }, c.hits / (c.hits + c.misses));
    },
  });

  const keyOf = (category: CacheCategory, key: string) => `${category}:${key}`;

  return {
    async get<T>(category: CacheCategory, key: string, load: () => Promise<T | null>): Promise<T | null> {
      if (!caching.enabled) return load();
      const cached = await cache.get(keyOf(category, key)).catch(() => null);
      if (cached !== null) {
        count(category, true);
        return JSON.parse(cached) as T;
      }
      count(category, false);
      const value = await load();
      if (value !== null) await cache.set(keyOf(category, key), JSON.stringify(value), ttl[category]).catch(() => {});
      return value;
    },
    async invalidate(category, key) {
      await cache.delete(keyOf(category, key)).catch(() => {});
    },
  };
}
