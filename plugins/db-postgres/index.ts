import { Kysely, sql as raw } from "kysely";
import postgresjs from "postgres";
import {
  ChannelHub,
  createDbMetrics,
  type DatabasePlugin,
  type DatabaseSchema,
  type Db,
  type DbTransaction,
  type PluginContext,
  PluginError,
  redactUrl,
  toDbError,
} from "@/plugin-kit";
import { PostgresJsDialect } from "./driver";
import { PostgresListener } from "./listener";
import { classify, commonOptions, connectionTarget, retryPolicy, withRetries } from "./pool";

export interface PostgresOptions {
  /**
   * Connection URL, e.g. `postgresql://user:pass@host:5432/db` (DATABASE_URL). The server's Unix
   * socket, as libpq writes it: `postgresql://user@localhost/db?host=/run/postgresql` (or
   * `postgresql://%2Frun%2Fpostgresql/db`).
   */
  url: string;
  /** Most connections in the pool, at least 2 (POSTGRES_MAX_CONNECTIONS). One more is opened for LISTEN. @default 100 */
  maxConnections?: number;
  /**
   * Connections opened at start-up (POSTGRES_MIN_CONNECTIONS), so the first
   * requests do not pay for connecting. postgres.js keeps no floor: a
   * connection idle for `idleTimeout` is closed even below this number.
   * @default 10
   */
  minConnections?: number;
  /**
   * Seconds to wait for a new connection (POSTGRES_CONNECT_TIMEOUT): a
   * database that does not answer within it fails requests with 503 rather
   * than holding them. @default 5
   */
  connectTimeout?: number;
  /** Seconds before a connection is recycled (POSTGRES_MAX_LIFETIME). @default 1800 */
  maxLifetime?: number;
  /** Seconds an idle connection is kept (POSTGRES_IDLE_TIMEOUT). @default 600 */
  idleTimeout?: number;
  /** Seconds a writer waits for a repository or other named lock before failing with a 503. @default 15 */
  lockTimeout?: number;
  /**
   * Use named prepared statements, cached per connection: the server parses
   * and plans each query once per connection (measured: +37% record writes/s).
   * Turn off behind PgBouncer in transaction pooling mode.
   * @default true
   */
  preparedStatements?: boolean;
}

const NAME = "db-postgres";
/** First key of every advisory lock Aurora takes, so its locks cannot collide with another application's. */
const LOCK_SPACE = 0x41555241; // "AURA"
/** Lock namespace (first key) of the migration lock; named locks use LOCK_SPACE. */
const MIGRATION_LOCK_SPACE = 0x4155524d; // "AURM"

/**
 * PostgreSQL through postgres.js, for any number of nodes sharing one
 * database. Locks are transaction-level advisory locks (released at commit,
 * rollback or disconnect); notifications are LISTEN/NOTIFY on a dedicated
 * connection that is renewed after outages. Connection failures surface as
 * unavailable `PluginError`s (HTTP 503) and the same pool reconnects by
 * itself once the database is back.
 */
export function postgres(options: PostgresOptions): DatabasePlugin {
  const settings = {
    maxConnections: Math.max(2, options.maxConnections ?? 100),
    minConnections: options.minConnections ?? 10,
    connectTimeout: options.connectTimeout ?? 5,
    maxLifetime: options.maxLifetime ?? 1800,
    idleTimeout: options.idleTimeout ?? 600,
    lockTimeout: options.lockTimeout ?? 15,
    preparedStatements: options.preparedStatements ?? true,
  };
  let pool: postgresjs.Sql | undefined;
  let kysely: Db | undefined;
  let listener: PostgresListener | undefined;
  let log: PluginContext["log"] | undefined;
  const hub = new ChannelHub(() => log);
  const toError = (err: unknown) => toDbError(NAME, err, classify);
  const target = connectionTarget(options.url);

  const db = (): Db => {
    if (!kysely) throw new PluginError(NAME, "not initialised", { unavailable: true });
    return kysely;
  };
  const sqlPool = () => {
    if (!pool) throw new PluginError(NAME, "not initialised", { unavailable: true });
    return pool;
  };
  const transaction = <T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T> => db().transaction().execute(fn);
  const lock = async (tx: DbTransaction, name: string) => {
    // set_config in a CTE runs first; `true` scopes lock_timeout to this transaction.
    await raw`with t as (select set_config('lock_timeout', ${String(settings.lockTimeout * 1000)}, true))
      select pg_advisory_xact_lock(${LOCK_SPACE}::int4, ${lockKey(name)}::int4) from t`.execute(tx);
  };

  return {
    kind: "db",
    name: NAME,
    dialect: "postgres",
    shared: true,
    db,
    async init(ctx) {
      log = ctx.log;
      const metrics = createDbMetrics(ctx.metrics, settings.maxConnections);
      pool = postgresjs(target.url, {
        // Open connections for aurora_db_connections, counted by their sockets: postgres.js has no pool
        // statistics of its own, and its `debug` hook would make it capture a stack trace for every query.
        ...commonOptions(
          settings.connectTimeout,
          (socket) => {
            metrics.connectionOpened();
            socket.once("close", metrics.connectionClosed);
          },
          target.path,
        ),
        max: settings.maxConnections,
        max_lifetime: settings.maxLifetime,
        idle_timeout: settings.idleTimeout,
        connection: { application_name: "aurora" },
      });
      kysely = new Kysely<DatabaseSchema>({ dialect: metrics.instrument(new PostgresJsDialect(pool, toError, settings.preparedStatements, settings.maxConnections)), log: metrics.log });
      const warm = Math.min(settings.minConnections, settings.maxConnections);
      try {
        // Concurrent queries each take a fresh connection while none is open yet.
        await Promise.all(Array.from({ length: Math.max(1, warm) }, () => sqlPool()`select 1`));
      } catch (cause) {
        throw new PluginError(NAME, `cannot connect to ${redactUrl(options.url)}: ${(cause as Error).message}`, {
          cause,
          unavailable: true,
        });
      }
    },
    async health() {
      try {
        const pool = sqlPool();
        await withRetries(() => pool`select 1`, retryPolicy(true, settings.maxConnections));
      } catch (err) {
        throw toError(err);
      }
    },
    transaction,
    snapshot: (fn) => db().transaction().setIsolationLevel("repeatable read").setAccessMode("read only").execute(fn),
    lock,
    withRepoLock: (did, fn) =>
      transaction(async (tx) => {
        await lock(tx, `repo:${did}`);
        return fn(tx);
      }),
    withMigrationLock: (fn) =>
      // A transaction on its own connection holds the lock while `fn` migrates on others;
      // should this process die, the connection closes and the lock goes with it.
      transaction(async (tx) => {
        await raw`select pg_advisory_xact_lock(${MIGRATION_LOCK_SPACE}::int4, 0)`.execute(tx);
        return fn();
      }),
    async notify(channel, payload) {
      await raw`select pg_notify(${channel}, ${payload})`.execute(db());
    },
    async listen(channel, handler) {
      sqlPool();
      listener ??= new PostgresListener(target, settings.connectTimeout, hub, () => log);
      return listener.listen(channel, handler);
    },
    describe: () => ({ url: redactUrl(options.url), ...settings }),
    async close() {
      const [closingListener, closingPool] = [listener, pool];
      listener = pool = kysely = undefined;
      hub.clear();
      await closingListener?.close();
      // Callers close after draining requests, so a short grace suffices. It is always used up
      // after an outage: postgres.js keeps a failed query on a connection that never reconnected.
      await closingPool?.end({ timeout: 1 });
    },
  };
}

/** A lock name as the second int4 key of an advisory lock; a collision only makes two names share a lock. */
function lockKey(name: string): number {
  return Bun.hash.crc32(name) | 0;
}
