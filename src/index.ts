/**
 * The public API: what `import ... from "aurora"` gives a config file. The
 * compiled binary serves this module as a virtual module (see src/main.ts);
 * tsconfig `paths` maps it here for editors and type-checking.
 */
export { defineConfig } from "@/config/define";
export { fromEnv } from "@/config/env";
export type { UserConfig } from "@/config/schema";
export type { ResolvedConfig } from "@/config/resolve";

export { memory } from "@/cache/memory";
export { sqlite } from "@plugins/db-sqlite";
export { postgres } from "@plugins/db-postgres";
export { disk } from "@plugins/storage-disk";
export { s3 } from "@plugins/storage-s3";
export { redis } from "@plugins/cache-redis";

export type { MemoryCacheOptions } from "@/cache/memory";
export type { SqliteOptions } from "@plugins/db-sqlite";
export type { PostgresOptions } from "@plugins/db-postgres";
export type { DiskOptions } from "@plugins/storage-disk";
export type { S3Options } from "@plugins/storage-s3";
export type { RedisOptions } from "@plugins/cache-redis";

// For third-party plugins: the contracts they implement and the error they throw.
export type { Plugin, PluginContext } from "@/contracts/plugin";
export type { DatabasePlugin, Db, DbTransaction, NotifyHandler } from "@/contracts/db";
export type { DatabaseSchema } from "@/db/schema";
export { DbError } from "@/db/errors";
export type { BlobStorePlugin, BlobRead, BlobRange, BlobSource, BlobStat, BlobPage } from "@/contracts/blob-store";
export { BlobNotFoundError, BlobRangeError, InvalidBlobRefError } from "@/contracts/blob-store";
export type {
  CachePlugin,
  CacheScript,
  LocalScriptStore,
  LocalValue,
  MessageHandler,
  Unsubscribe,
} from "@/contracts/cache";
export { PluginError } from "@/errors";
