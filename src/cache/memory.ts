import type { CachePlugin, CacheScript } from "@/contracts/cache";
import type { PluginContext } from "@/contracts/plugin";
import { PluginError } from "@/errors";
import { checkIncrement, checkPrefix, ttlToMs } from "./checks";
import { INCR_SCRIPT } from "./incr-script";
import { LocalPubSub } from "./local-pubsub";
import { LruStore } from "./lru-store";

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used go first. @default 100000 */
  maxEntries?: number;
  /** Most bytes of keys + values kept (UTF-16 length x2 as an estimate). @default 67108864 (64 MiB) */
  maxBytes?: number;
}

const NAME = "cache-memory";

/**
 * The built-in cache, used when no cache plugin is configured: one process,
 * nothing shared. Bounded LRU (src/cache/lru-store.ts) with per-entry TTL;
 * `incr` and scripts run their local halves synchronously, which is atomic
 * because nothing else runs meanwhile; pub/sub reaches this process only.
 * Script state lives in the same LRU, so under memory pressure a rate
 * limiter's counters can be evicted (they forgive, never over-limit).
 */
export function memory(options: MemoryCacheOptions = {}): CachePlugin {
  const maxEntries = options.maxEntries ?? 100_000;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const store = new LruStore(maxEntries, maxBytes);
  let log: PluginContext["log"] | undefined;
  const pubsub = new LocalPubSub((err, channel) => log?.error("cache subscriber failed", { channel, err }));

  const run = <Result>(script: CacheScript<Result>, keys: readonly string[], args: readonly (string | number)[]) => {
    try {
      return script.local(store, keys, args.map(String));
    } catch (cause) {
      throw new PluginError(NAME, `script ${script.name} failed: ${(cause as Error).message}`, { cause });
    }
  };

  return {
    kind: "cache",
    name: NAME,
    shared: false,
    async init(ctx) {
      log = ctx.log;
    },
    async health() {},
    describe: () => ({ maxEntries, maxBytes }),
    async close() {
      store.clear();
      pubsub.clear();
    },
    async get(key) {
      const value = store.get(key);
      if (value !== null && typeof value !== "string") {
        throw new PluginError(NAME, `key ${JSON.stringify(key)} holds script state, not a string`);
      }
      return value;
    },
    async set(key, value, ttlSeconds) {
      store.set(key, value, ttlToMs(NAME, ttlSeconds));
    },
    async delete(key) {
      store.delete(key);
    },
    async deletePrefix(prefix) {
      checkPrefix(NAME, prefix);
      store.deletePrefix(prefix);
    },
    async incr(key, by, ttlSeconds) {
      checkIncrement(NAME, by);
      return run(INCR_SCRIPT, [key], [by, ttlToMs(NAME, ttlSeconds)]);
    },
    async atomic(script, keys, args) {
      return run(script, keys, args);
    },
    async publish(channel, message) {
      pubsub.publish(channel, message);
    },
    async subscribe(channel, handler) {
      return pubsub.subscribe(channel, handler);
    },
  };
}
