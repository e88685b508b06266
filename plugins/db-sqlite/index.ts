import { Database } from "bun:sqlite";
import { Kysely } from "kysely";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  ChannelHub,
  createDbMetrics,
  type DatabasePlugin,
  type DatabaseSchema,
  type Db,
  type DbErrorReason,
  type DbTransaction,
  type PluginContext,
  PluginError,
  Semaphore,
  toDbError,
} from "@/plugin-kit";
import { BunSqliteDialect } from "./driver";
import { GroupCommit } from "./group-commit";

export interface SqliteOptions {
  /** Database file; relative paths are under the data directory. `:memory:` for tests. @default "aurora.sqlite" */
  path?: string;
  /** How long a writer waits for another process's write lock before failing with a 503, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /**
   * When a commit is acknowledged. `full`: synced to disk, so it survives a power loss. `normal`: in WAL
   * mode it survives a crash of the process but a power loss can drop the last commits. FULL costs one
   * WAL fsync per COMMIT, which group commit shares among the writers that queued up meanwhile.
   * @default "full"
   */
  synchronous?: "full" | "normal";
  /**
   * Read snapshots (getRepo exports, record proofs) open at once, each on a connection of its own;
   * further ones wait for a free one, so slow clients cannot pile up file handles. A long snapshot also
   * holds back WAL checkpoints until it ends. @default 16
   */
  maxSnapshots?: number;
  /**
   * How much of the file a read snapshot's connection reads through a memory map (PRAGMA mmap_size)
   * rather than copying each page into the page cache of a connection that starts empty: a getRepo
   * export reads every block of the repository once. The mapped pages count in the process's RSS
   * while the snapshot lasts (they are the kernel's page cache, unmapped when it ends); the main
   * connection reads without a map. 0 turns it off. @default 256
   */
  snapshotMmapSizeMb?: number;
}

type DbMetrics = ReturnType<typeof createDbMetrics>;

const NAME = "db-sqlite";
/** WAL pages between the write connection's automatic checkpoints (see init). */
const WAL_CHECKPOINT_PAGES = 4000;

/**
 * SQLite through bun:sqlite for a single node: one file in WAL mode and one
 * connection. Every transaction starts with `BEGIN IMMEDIATE` (transactions
 * that queue up share one, each in a savepoint, and one COMMIT: group-commit.ts), so there is
 * one writer at a time, in this process (the connection is handed out in
 * turn) and across processes (SQLite's write lock with a busy timeout); named
 * locks and the repo lock therefore need nothing more. Notifications stay in
 * this process (`shared: false`). Open one instance per file per process.
 */
export function sqlite(options: SqliteOptions = {}): DatabasePlugin {
  const path = options.path ?? "aurora.sqlite";
  const busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 5000);
  const synchronous = options.synchronous === "normal" ? "NORMAL" : "FULL";
  const snapshots = new Semaphore(Math.max(1, Math.trunc(options.maxSnapshots ?? 16)));
  const snapshotMmapBytes = Math.max(0, Math.trunc(options.snapshotMmapSizeMb ?? 256)) * 1024 * 1024;
  let kysely: Db | undefined;
  let file: string | undefined;
  let metrics: DbMetrics | undefined;
  let log: PluginContext["log"] | undefined;
  const hub = new ChannelHub(() => log);
  const toError = (err: unknown) => toDbError(NAME, err, classify);

  const db = (): Db => {
    if (!kysely) throw new PluginError(NAME, "not initialised", { unavailable: true });
    return kysely;
  };
  let writer: Database | undefined;
  // Write transactions share COMMITs (one fsync) when they queue up: see group-commit.ts.
  const group = new GroupCommit(db, () => writer?.inTransaction ?? false);
  const transaction = <T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T> => group.run(fn);
  const snapshot = async <T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T> => {
    const main = db();
    // An in-memory database exists on one connection only: the snapshot then waits its turn like a writer.
    const [at, m] = [file, metrics];
    if (at === undefined || at === ":memory:" || !m) return main.transaction().setAccessMode("read only").execute(fn);
    return snapshots.run(() => onOwnConnection(at, m, fn));
  };
  const onOwnConnection = async <T>(at: string, m: DbMetrics, fn: (tx: DbTransaction) => Promise<T>): Promise<T> => {
    let reader: Db;
    try {
      const database = new Database(at, { strict: true });
      database.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      database.run("PRAGMA query_only = ON");
      database.run(`PRAGMA mmap_size = ${snapshotMmapBytes}`);
      reader = new Kysely<DatabaseSchema>({ dialect: m.instrument(new BunSqliteDialect(database, toError)), log: m.log });
    } catch (err) {
      throw toError(err);
    }
    try {
      return await reader.transaction().setAccessMode("read only").execute(fn);
    } finally {
      await reader.destroy();
    }
  };

  return {
    kind: "db",
    name: NAME,
    dialect: "sqlite",
    shared: false,
    db,
    async init(ctx) {
      log = ctx.log;
      file = path === ":memory:" ? path : resolve(ctx.dataDir, path);
      let database: Database | undefined;
      try {
        if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
        database = new Database(file, { create: true, strict: true });
        database.run("PRAGMA journal_mode = WAL");
        database.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
        database.run(`PRAGMA synchronous = ${synchronous}`);
        database.run("PRAGMA foreign_keys = ON");
        // Savepoint journals in memory: each transaction of a group commit runs in a SAVEPOINT, and every
        // page it changes that an earlier one of the group changed is first copied to that journal.
        database.run("PRAGMA temp_store = MEMORY");
        // A checkpoint every 4000 WAL pages (16 MiB at 4 KiB) rather than SQLite's 1000: it runs inside the
        // COMMIT that crosses the mark, on this thread, and copies each page once however often it was
        // rewritten since the last one (the roots, the seq and rev indexes are rewritten by every write).
        database.run(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      } catch (cause) {
        database?.close();
        throw new PluginError(NAME, `cannot open ${file}: ${(cause as Error).message}`, { cause });
      }
      writer = database;
      metrics = createDbMetrics(ctx.metrics, 1);
      metrics.connectionOpened(); // the one connection stays open for the plugin's life
      kysely = new Kysely<DatabaseSchema>({ dialect: metrics.instrument(new BunSqliteDialect(database, toError)), log: metrics.log });
    },
    async health() {
      await db().selectNoFrom((eb) => eb.lit(1).as("ok")).execute();
    },
    transaction,
    snapshot,
    async lock() {
      // The transaction already holds SQLite's only write lock (BEGIN IMMEDIATE).
    },
    withRepoLock: (_did, fn) => transaction(fn),
    withMigrationLock: (fn) => fn(),
    async notify(channel, payload) {
      // Delivered on a later tick, like a database round trip, so a handler never runs inside the caller.
      setTimeout(() => hub.deliver(channel, payload), 0);
    },
    async listen(channel, handler) {
      hub.add(channel, handler);
      return async () => {
        hub.remove(channel, handler);
      };
    },
    describe: () => ({ path, busyTimeoutMs, synchronous: synchronous.toLowerCase(), snapshotMmapSizeMb: snapshotMmapBytes / 1024 / 1024 }),
    async close() {
      hub.clear();
      const closing = kysely;
      kysely = undefined;
      await closing?.destroy();
    },
  };
}

function classify(err: unknown): DbErrorReason {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") return "unique";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "busy";
    if (/^SQLITE_(IOERR|FULL|CANTOPEN|READONLY|NOTADB|CORRUPT)/.test(code)) return "unavailable";
  }
  // bun:sqlite's error for a closed database has no code.
  if (err instanceof RangeError && /closed database/i.test(err.message)) return "unavailable";
  return "query";
}
