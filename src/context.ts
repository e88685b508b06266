import type { RunConfig } from "@/config/resolve";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { Plugin } from "@/contracts/plugin";
import { migrateToLatest } from "@/db/migrator";
import { type CacheAside, createCacheAside } from "@/cache/aside";
import { createApp } from "@/http/app";
import { createHandler } from "@/http/handle";
import { type Metrics, createMetrics } from "@/http/metrics";
import { type Logger, createLogger } from "@/log";
import { methods as allMethods } from "@/xrpc";
import type { XrpcMethod } from "@/xrpc/method";

export interface AppContext {
  readonly config: RunConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly db: DatabasePlugin;
  readonly blobs: BlobStorePlugin;
  readonly cache: CachePlugin;
  /** Cache-aside reads over the cache slot, by the guide's categories and TTLs. */
  readonly cached: CacheAside;
  readonly methods: Readonly<Record<string, XrpcMethod>>;
  /** The server's fetch function: the whole HTTP surface, usable without a socket in tests. */
  readonly handle: (request: Request) => Promise<Response>;
  /** Close every backend, newest first. Safe to call twice. */
  close(): Promise<void>;
}

/** What tests (and only tests) replace. */
export interface ContextOverrides {
  log?: Logger;
  db?: DatabasePlugin;
  blobs?: BlobStorePlugin;
  cache?: CachePlugin;
  /** The XRPC route table (tests mount extra methods to exercise the XRPC layer). */
  methods?: Readonly<Record<string, XrpcMethod>>;
}

/**
 * The one place that builds the server: logger, metrics, backends (initialised
 * in order; on failure the ones already up are closed), and the HTTP app.
 */
export async function createContext(config: RunConfig, overrides: ContextOverrides = {}): Promise<AppContext> {
  const log = overrides.log ?? createLogger(config.log.level);
  const metrics = createMetrics();
  const db = overrides.db ?? config.db;
  const blobs = overrides.blobs ?? config.blobs;
  const cache = overrides.cache ?? config.cache;

  const started: Plugin<string>[] = [];
  const closeAll = async () => {
    for (const plugin of started.splice(0).reverse()) {
      await plugin.close().catch((err) => log.warn("plugin close failed", { plugin: plugin.name, err }));
    }
  };
  try {
    for (const plugin of [db, blobs, cache] as Plugin<string>[]) {
      started.push(plugin);
      await plugin.init({ dataDir: config.dataDir, log: log.child({ plugin: plugin.name }), metrics: metrics.registry });
    }
    if (config.service.migrateOnStart) {
      const applied = await migrateToLatest(db);
      if (applied.length > 0) log.info("database migrated", { plugin: db.name, applied });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  const ctx: AppContext = {
    config,
    log,
    metrics,
    db,
    blobs,
    cache,
    cached: createCacheAside(cache, config.caching, metrics.registry),
    methods: overrides.methods ?? allMethods,
    handle: (request) => handler(request),
    close: closeAll,
  };
  const handler = createHandler(createApp(ctx), log, metrics, new Set(Object.keys(ctx.methods)));
  return ctx;
}
