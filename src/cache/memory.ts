import type { CachePlugin } from "@/contracts/cache";

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used go first. @default 100000 */
  maxEntries?: number;
  /** Most bytes of keys + values kept (UTF-16 length x2 as an estimate). @default 67108864 (64 MiB) */
  maxBytes?: number;
}

interface Entry {
  value: string;
  expiresAt: number;
  bytes: number;
}

/**
 * The built-in cache, used when no cache plugin is configured. Bounded LRU
 * (by entries and by bytes) with per-entry TTL. A Map keeps insertion order,
 * so re-inserting on read makes the first key the least recently used.
 */
export function memory(options: MemoryCacheOptions = {}): CachePlugin {
  const maxEntries = options.maxEntries ?? 100_000;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  let bytes = 0;

  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.bytes;
  };

  return {
    kind: "cache",
    name: "cache-memory",
    shared: false,
    async init() {},
    async health() {},
    describe: () => ({ maxEntries, maxBytes }),
    async close() {
      entries.clear();
      bytes = 0;
    },
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return null;
      if (entry.expiresAt <= Date.now()) {
        remove(key);
        return null;
      }
      entries.delete(key);
      entries.set(key, entry);
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      remove(key);
      const entry = { value, expiresAt: Date.now() + ttlSeconds * 1000, bytes: (key.length + value.length) * 2 };
      if (entry.bytes > maxBytes) return;
      entries.set(key, entry);
      bytes += entry.bytes;
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries && bytes <= maxBytes) break;
        remove(oldest);
      }
    },
    async delete(key) {
      remove(key);
    },
  };
}
