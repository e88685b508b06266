import type Redis from "ioredis";
import { ReplyError } from "ioredis";
import {
  type CachePlugin,
  checkIncrement,
  checkPrefix,
  INCR_SCRIPT,
  PluginError,
  redactUrl,
  ttlToMs,
} from "@/plugin-kit";
import { Degradation, type Operation } from "./degradation";
import { deleteByPrefix } from "./delete-prefix";
import { RedisPool } from "./pool";
import { runScript } from "./scripts";
import { Subscriptions } from "./subscriptions";

export interface RedisOptions {
  /** Connection URL (REDIS_URL); `rediss://` for TLS. @default "redis://localhost:6379" */
  url?: string;
  /** Prefix of every key and pub/sub channel Aurora uses (CACHE_KEY_PREFIX). @default "aurora:" */
  keyPrefix?: string;
  /** Connections used for commands, round-robin (REDIS_POOL_SIZE); pub/sub has one more of its own. @default 10 */
  poolSize?: number;
  /** CLIENT SETNAME of each connection, suffixed `:cmd0`…`:sub`, to spot Aurora in CLIENT LIST. @default "aurora" */
  connectionName?: string;
  /** A command not answered in this many ms fails (and degrades) instead of holding a request. @default 1000 */
  commandTimeoutMs?: number;
  /** Give up one connection attempt after this many ms. @default 5000 */
  connectTimeoutMs?: number;
  /** At most one "Redis unreachable" warning per this many ms. @default 30000 */
  warnIntervalMs?: number;
}

/**
 * Redis through ioredis: a cache, counters, scripts and pub/sub shared by
 * every node. Keys and channels live under `keyPrefix`.
 *
 * `init()` fails (PluginError, unavailable) when Redis cannot be reached:
 * the operator asked for a shared cache, and silently running without one
 * would make distributed rate limits per-node without anyone noticing.
 * After start-up an outage degrades instead (see `CachePlugin`): reads miss,
 * writes are dropped, `incr`/`atomic` throw `unavailable`, each counted in
 * `aurora_cache_degraded_total{operation}` and warned about once per
 * `warnIntervalMs`; `health()` fails so the readiness probe shows it; ioredis
 * reconnects by itself and subscriptions are renewed, with no restart.
 * One Redis server, not Redis Cluster: `deletePrefix` scans a single keyspace.
 */
export function redis(options: RedisOptions = {}): CachePlugin {
  const name = "cache-redis";
  const url = options.url ?? "redis://localhost:6379";
  const prefix = options.keyPrefix ?? "aurora:";
  const settings = {
    url,
    size: options.poolSize ?? 10,
    connectionName: options.connectionName ?? "aurora",
    commandTimeoutMs: options.commandTimeoutMs ?? 1000,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
  };
  const warnIntervalMs = options.warnIntervalMs ?? 30_000;
  if (!Number.isInteger(settings.size) || settings.size < 1) {
    throw new PluginError(name, `poolSize must be an integer >= 1, got ${settings.size}`);
  }

  let pool: RedisPool | undefined;
  let subs: Subscriptions | undefined;
  let degradation: Degradation | undefined;

  const unavailable = (what: string, cause: unknown) =>
    new PluginError(name, `${what}: Redis at ${redactUrl(url)} unreachable: ${(cause as Error).message}`, {
      cause,
      unavailable: true,
    });

  /** Runs `fn` on the next ready connection; errors become PluginErrors, `unavailable` unless Redis answered. */
  const call = async <T>(what: string, fn: (conn: Redis) => Promise<T>): Promise<T> => {
    if (!pool) throw new PluginError(name, `${what}: not initialised`, { unavailable: true });
    const conn = pool.pick();
    if (!conn) throw unavailable(what, new Error("no connection is ready"));
    try {
      return await fn(conn);
    } catch (err) {
      if (err instanceof PluginError) throw err;
      if (err instanceof ReplyError) throw new PluginError(name, `${what}: ${(err as Error).message}`, { cause: err });
      throw unavailable(what, err);
    }
  };

  /** For reads and writes: an outage is counted and answered with `fallback`; anything else still throws. */
  const orDegrade = async <T>(op: Operation, run: Promise<T>, fallback: T): Promise<T> => {
    try {
      return await run;
    } catch (err) {
      if (!(err instanceof PluginError) || !err.unavailable || !degradation) throw err;
      degradation.operation(op, err);
      return fallback;
    }
  };

  /** For counters and scripts: an outage is counted and still thrown, so the caller can fall back. */
  const orThrow = async <T>(op: Operation, run: Promise<T>): Promise<T> => {
    try {
      return await run;
    } catch (err) {
      if (err instanceof PluginError && err.unavailable) degradation?.operation(op, err);
      throw err;
    }
  };

  return {
    kind: "cache",
    name,
    shared: true,
    async init(ctx) {
      const degraded = new Degradation(ctx.log, ctx.metrics, warnIntervalMs);
      let starting = true;
      let lastError: Error | undefined;
      pool = new RedisPool(settings, {
        error: (err) => (starting ? (lastError = err) : degraded.connection(err)),
        ready: () => degraded.recovered(),
      });
      subs = new Subscriptions(pool.subscriber, prefix, {
        degraded: (err) => degraded.operation("subscribe", err),
        handlerFailed: (err, channel) => ctx.log.error("cache subscriber failed", { channel, err }),
      });
      try {
        await pool.connect();
      } catch (cause) {
        await pool.close();
        pool = undefined;
        subs = undefined;
        throw unavailable("cannot start (is REDIS_URL right and Redis running?)", lastError ?? cause);
      }
      starting = false;
      degradation = degraded;
    },
    async health() {
      await call("health", (conn) => conn.ping());
      if (pool?.subscriber.status !== "ready") throw unavailable("pub/sub", new Error(`connection is ${pool?.subscriber.status}`));
    },
    describe: () => ({ url: redactUrl(url), keyPrefix: prefix, poolSize: settings.size, connectionName: settings.connectionName,
      commandTimeoutMs: settings.commandTimeoutMs, connectTimeoutMs: settings.connectTimeoutMs, warnIntervalMs }),
    async close() {
      subs?.clear();
      await pool?.close();
      pool = undefined;
      subs = undefined;
      degradation = undefined;
    },
    async get(key) {
      return orDegrade("get", call("get", (conn) => conn.get(prefix + key)), null);
    },
    async set(key, value, ttlSeconds) {
      const ms = ttlToMs(name, ttlSeconds);
      await orDegrade("set", call("set", (conn) => conn.set(prefix + key, value, "PX", ms)), undefined);
    },
    async delete(key) {
      await orDegrade("delete", call("delete", (conn) => conn.del(prefix + key)), undefined);
    },
    async deletePrefix(keyStart) {
      checkPrefix(name, keyStart);
      await orDegrade("deletePrefix", call("deletePrefix", (conn) => deleteByPrefix(name, conn, prefix + keyStart)), undefined);
    },
    async incr(key, by, ttlSeconds) {
      checkIncrement(name, by);
      const args = [String(by), String(ttlToMs(name, ttlSeconds))];
      return orThrow("incr", call("incr", (conn) => runScript(conn, INCR_SCRIPT, [prefix + key], args)));
    },
    async atomic(script, keys, args) {
      const run = call(`atomic ${script.name}`, (conn) => runScript(conn, script, keys.map((k) => prefix + k), args.map(String)));
      return orThrow("atomic", run);
    },
    async publish(channel, message) {
      await orDegrade("publish", call("publish", (conn) => conn.publish(prefix + channel, message)), undefined);
    },
    async subscribe(channel, handler) {
      if (!subs) throw new PluginError(name, "subscribe: not initialised", { unavailable: true });
      try {
        return await subs.subscribe(channel, handler);
      } catch (cause) {
        throw new PluginError(name, `subscribe: ${(cause as Error).message}`, { cause });
      }
    },
  };
}
