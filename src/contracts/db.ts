import type { Kysely, Transaction } from "kysely";
import type { DatabaseSchema } from "@/db/schema";
import type { Plugin } from "./plugin";

/** The typed query builder over the one schema (src/db/schema.ts). */
export type Db = Kysely<DatabaseSchema>;
/** A query builder bound to one open transaction. */
export type DbTransaction = Transaction<DatabaseSchema>;

/**
 * Receives a notification's payload, or `null` when notifications may have
 * been missed (the listening connection was re-established after an outage):
 * the listener should then re-read whatever state it follows.
 */
export type NotifyHandler = (payload: string | null) => void;

/**
 * Database backend (plugins/db-sqlite, plugins/db-postgres). The core owns
 * the schema, the migrations and every query; a database plugin supplies the
 * driver and dialect, pooling, transactions, cross-process locks and change
 * notifications.
 *
 * Every error a plugin throws is a `PluginError` (src/db/errors.ts `DbError`):
 * `unavailable: true` when the database cannot be reached or is busy (the
 * HTTP layer answers 503), `isUniqueViolation(err)` for duplicate keys.
 */
export interface DatabasePlugin extends Plugin<"db"> {
  readonly dialect: "sqlite" | "postgres";
  /** Several server processes may share this database (nodes > 1). */
  readonly shared: boolean;
  /**
   * The query builder. A method rather than a property so the read-only
   * config types pass it through untouched. Throws an unavailable
   * `PluginError` before `init()` and after `close()`.
   */
  db(): Db;
  /**
   * Run `fn` in one transaction: committed when it resolves, rolled back when
   * it throws (the error is rethrown). Inside `fn` use only `tx`: on SQLite
   * the one connection is held by the transaction, so a query through `db`
   * would wait for it forever.
   */
  transaction<T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T>;
  /**
   * Run `fn` in a read-only transaction that sees one consistent snapshot:
   * commits made while it runs are invisible to it (a repository export that
   * reads many pages never mixes two commits). PostgreSQL: REPEATABLE READ
   * READ ONLY. SQLite: a deferred transaction on a connection of its own (the
   * WAL snapshot starts at its first read), so a slow reader never holds up
   * writers. Writing through `tx` fails.
   */
  snapshot<T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T>;
  /**
   * Take the named lock for the rest of `tx`: no other transaction, in any
   * process sharing the database, holds the same name until `tx` ends.
   * Fails with an unavailable `PluginError` when the wait exceeds the
   * plugin's lock timeout.
   */
  lock(tx: DbTransaction, name: string): Promise<void>;
  /**
   * `transaction(fn)` holding the lock of repository `did`: writers of one
   * repository are serialised across processes and nodes, so its commit
   * chain never forks. Writers of different repositories do not wait for
   * each other (PostgreSQL; SQLite has a single writer anyway).
   */
  withRepoLock<T>(did: string, fn: (tx: DbTransaction) => Promise<T>): Promise<T>;
  /** Run `fn` while holding the migration lock: one migrator at a time across all nodes. */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Tell every listener of `channel`, in this process and (when `shared`) in
   * every other, after the caller's transaction has committed. Payloads are
   * hints (at most 7999 bytes), never the data itself: a listener that was
   * disconnected gets `null` and re-reads.
   */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Call `handler` for each notification on `channel` until the returned
   * function is called. Survives database restarts: the subscription is
   * renewed on reconnect and the handler then receives `null`.
   */
  listen(channel: string, handler: NotifyHandler): Promise<() => Promise<void>>;
}

/** The methods a database plugin must have beyond the lifecycle; checked when the config loads. */
export const DATABASE_METHODS = [
  "db",
  "transaction",
  "snapshot",
  "lock",
  "withRepoLock",
  "withMigrationLock",
  "notify",
  "listen",
] as const satisfies readonly (keyof DatabasePlugin)[];
