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

// For third-party plugins: the plugin kit, the same module the bundled plugins build on
// (contracts, PluginError/DbError, db channels and metrics, cache checks, redaction).
export * from "@/plugin-kit";
