import type { AppContext } from "@/app-context";
import type { RunConfig } from "@/config/resolve";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { Plugin } from "@/contracts/plugin";
import { createAccountServices } from "@/account/services";
import { migrateToLatest } from "@/db/migrator";
import { BlobService } from "@/blob/service";
import { startSweeper, sweeperTiming } from "@/blob/sweeper";
import { bundledRecordValidator } from "@/lexicon";
import { createRepoService } from "@/repo/service";
import { createCacheAside } from "@/cache/aside";
import { startFirehose } from "@/firehose/start";
import { createRoutes } from "@/http/app";
import { createProxy } from "@/proxy";
import { createHandler } from "@/http/handle";
import { createMetrics } from "@/http/metrics";
import { type Logger, createLogger } from "@/log";
import { createRateLimits } from "@/rate-limit/limiter";
import { startEventPruner } from "@/sequencer/pruner";
import { createSequencer } from "@/sequencer/sequencer";
import { methods as allMethods } from "@/xrpc";
import type { XrpcMethod } from "@/xrpc/method";
import type { SafeFetchOptions } from "@/identity/safe-fetch";

/** What tests (and only tests) replace. */
export interface ContextOverrides {
  log?: Logger;
  db?: DatabasePlugin;
  blobs?: BlobStorePlugin;
  cache?: CachePlugin;
  /** The XRPC route table (tests mount extra methods to exercise the XRPC layer). */
  methods?: Readonly<Record<string, XrpcMethod>>;
  /** Name resolution and a CA for fetching OAuth client metadata (tests serve client documents over local TLS). */
  oauthClientFetch?: Pick<SafeFetchOptions, "lookup" | "ca">;
}

/**
 * The one place that builds the server: logger, metrics, backends (initialised
 * in order), the services over them, and the HTTP app. On failure everything
 * already started is closed again, newest first.
 */
export async function createContext(config: RunConfig, overrides: ContextOverrides = {}): Promise<AppContext> {
  const log = overrides.log ?? createLogger(config.log.level);
  const metrics = createMetrics();
  const db = overrides.db ?? config.db;
  const blobs = overrides.blobs ?? config.blobs;
  const cache = overrides.cache ?? config.cache;

  const closers: { name: string; close: () => Promise<void> }[] = [];
  const closeAll = async () => {
    for (const { name, close } of closers.splice(0).reverse()) {
      await close().catch((err) => log.warn("close failed", { component: name, err }));
    }
  };
  try {
    for (const plugin of [db, blobs, cache] as Plugin<string>[]) {
      closers.push({ name: plugin.name, close: () => plugin.close() });
      await plugin.init({ dataDir: config.dataDir, log: log.child({ plugin: plugin.name }), metrics: metrics.registry });
    }
    if (config.service.migrateOnStart) {
      const applied = await migrateToLatest(db);
      if (applied.length > 0) log.info("database migrated", { plugin: db.name, applied });
    }

    const firehose = await startFirehose(config, db, cache, log, metrics.registry);
    closers.push({ name: "firehose", close: () => firehose.close() });
    const stopPruner = startEventPruner({ db, cache, backfillHours: config.firehose.backfillHours, log: log.child({ component: "event-pruner" }) });
    closers.push({ name: "event-pruner", close: async () => stopPruner() });
    const cached = createCacheAside(cache, config.caching, metrics.registry);
    const sequencer = createSequencer(db, log.child({ component: "sequencer" }), (row) => firehose.tail.expect(row));
    const rateLimits = await createRateLimits({ config, cache, log: log.child({ component: "rate-limit" }), registry: metrics.registry });
    closers.push({ name: "rate-limit", close: () => rateLimits.close() });
    const accountServices = await createAccountServices({ config, db, cache, cached, sequencer, rateLimits, log, registry: metrics.registry, oauthClientFetch: overrides.oauthClientFetch });
    closers.push({ name: "mailer", close: () => accountServices.mailer.close() });
    const oauthPrune = setInterval(() => {
      accountServices.oauth.prune().catch((err) => log.warn("could not prune expired OAuth requests and sessions", { err }));
    }, 10 * 60 * 1000);
    oauthPrune.unref();
    closers.push({ name: "oauth-prune", close: async () => clearInterval(oauthPrune) });
    // Read-after-write merges read through the whole context, which exists once everything is built.
    const proxy = createProxy({ config, log, metrics, db, cached, ...accountServices, app: () => ctx });
    closers.push({ name: "proxy", close: () => proxy.close() });
    const blobService = new BlobService(db, blobs, {
      uploadLimit: config.service.blobUploadLimit,
      log: log.child({ component: "blob" }),
      registry: metrics.registry,
    });
    const repo = createRepoService({
      db,
      blobs: blobService,
      sequencer,
      keys: (did, sealed) => accountServices.accounts.openSigningKey(did, sealed),
      validator: bundledRecordValidator(),
      log: log.child({ component: "repo" }),
      writeQueueMax: config.service.repoWriteQueueMax,
    });
    const sweep = sweeperTiming();
    const stopSweeper = startSweeper(blobService, cache, log.child({ component: "blob-sweeper" }), sweep.intervalMs, sweep.olderThanMs);
    closers.push({ name: "blob-sweeper", close: async () => stopSweeper() });

    const ctx: AppContext = {
      config,
      log,
      metrics,
      db,
      blobs,
      cache,
      cached,
      ...accountServices,
      repo,
      blobService,
      rateLimits,
      sequencer,
      firehose,
      proxy,
      handle: (request, peer, upgrade) => handler(request, peer, upgrade),
      close: closeAll,
    };
    const handler = createHandler(ctx, createRoutes(ctx, overrides.methods ?? allMethods));
    return ctx;
  } catch (err) {
    await closeAll();
    throw err;
  }
}
