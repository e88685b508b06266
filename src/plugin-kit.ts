/**
 * The plugin kit: everything a backend plugin builds on, in one module. The
 * bundled plugins under plugins/ import from here only (besides their own
 * files and their driver library), and src/index.ts re-exports all of it, so
 * a third-party plugin gets the same names from `import ... from "aurora"`
 * and can do whatever a bundled one does.
 */

// Lifecycle and errors.
export type { Plugin, PluginContext } from "@/contracts/plugin";
export { ConfigError, PluginError } from "@/errors";
export type { Logger } from "@/log";
export { REDACTED, redactUrl } from "@/config/redact";
export { type Degradation, createDegradation } from "@/util/degradation";
export { SQL_BATCH, inBatches } from "@/util/in-batches";
export { Semaphore } from "@/util/semaphore";

// Databases: the contract, the one schema, errors, LISTEN/NOTIFY fan-out, metrics, migrations.
export type { DatabasePlugin, Db, DbTransaction, NotifyHandler } from "@/contracts/db";
export type { DatabaseSchema } from "@/db/schema";
export { DbError, type DbErrorReason, toDbError } from "@/db/errors";
export { ChannelHub } from "@/db/channels";
export { type DbMetrics, createDbMetrics } from "@/db/metrics";
export { type ImmediateRunner, immediateRunner, offerImmediate } from "@/db/immediate";
export { migrateToLatest } from "@/db/migrator";

// Blob stores: the contract, its errors and the key/range rules every store applies.
export type { BlobPage, BlobRange, BlobRead, BlobSource, BlobStat, BlobStorePlugin } from "@/contracts/blob-store";
export {
  BlobNotFoundError,
  BlobRangeError,
  InvalidBlobRefError,
  assertCid,
  assertDid,
  assertRange,
  assertTempKey,
  listLimit,
  newTempKey,
  resolveRange,
  tempKeyTime,
} from "@/contracts/blob-store";

// Caches: the contract, the shared argument checks, the incr script, in-process pub/sub.
export type {
  CachePlugin,
  CacheScript,
  LocalScriptStore,
  LocalValue,
  MessageHandler,
  Unsubscribe,
} from "@/contracts/cache";
export { checkIncrement, checkPrefix, ttlToMs } from "@/cache/checks";
export { INCR_SCRIPT } from "@/cache/incr-script";
export { LocalPubSub } from "@/cache/local-pubsub";
