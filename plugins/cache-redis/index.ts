import Redis from "ioredis";
import type { CachePlugin } from "@/contracts/cache";
import { PluginError } from "@/errors";
import { redactUrl } from "@/config/redact";

export interface RedisOptions {
  /** Connection URL (REDIS_URL). @default "redis://localhost:6379" */
  url?: string;
  /** Prefix of every key Aurora writes (CACHE_KEY_PREFIX). @default "aurora:" */
  keyPrefix?: string;
  /** Connections used for commands (REDIS_POOL_SIZE). @default 10 */
  poolSize?: number;
}

/** Redis through ioredis: a cache shared by every node. */
export function redis(options: RedisOptions = {}): CachePlugin {
  const name = "cache-redis";
  const prefix = options.keyPrefix ?? "aurora:";
  let client: Redis | undefined;

  const conn = () => {
    if (!client) throw new PluginError(name, "not initialised", { unavailable: true });
    return client;
  };

  return {
    kind: "cache",
    name,
    shared: true,
    async init() {
      client = new Redis(options.url ?? "redis://localhost:6379", { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
      } catch (cause) {
        throw new PluginError(name, `cannot connect: ${(cause as Error).message}`, { cause, unavailable: true });
      }
    },
    async health() {
      try {
        await conn().ping();
      } catch (cause) {
        throw new PluginError(name, `unreachable: ${(cause as Error).message}`, { cause, unavailable: true });
      }
    },
    describe: () => ({ url: redactUrl(options.url ?? "redis://localhost:6379"), keyPrefix: prefix, poolSize: options.poolSize ?? 10 }),
    async close() {
      client?.disconnect();
      client = undefined;
    },
    async get(key) {
      return conn().get(prefix + key);
    },
    async set(key, value, ttlSeconds) {
      await conn().set(prefix + key, value, "EX", Math.max(1, Math.ceil(ttlSeconds)));
    },
    async delete(key) {
      await conn().del(prefix + key);
    },
  };
}
