import { CompiledQuery, Kysely, sql as raw } from "kysely";
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
import { Clients } from "./clients";
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
  /**
   * Most connections this node opens, at least 3 (POSTGRES_MAX_CONNECTIONS), `statementConnections` of
   * them for single statements and the rest, at least 2, for transactions (a migration runs its own
   * while its lock's holds one). One more is opened for LISTEN. @default 100
   */
  maxConnections?: number;
  /**
   * Connections, out of `maxConnections`, for statements outside a transaction (most reads), at most half
   * of them and at least one (POSTGRES_STATEMENT_CONNECTIONS). Each statement goes to the one with the
   * fewest in flight, and postgres.js pipelines it behind those, flushing each connection's queue in
   * one write: a few connections carry concurrent reads with fewer writes and wake-ups on both sides
   * than one connection each (getRecord over HTTP on postgres.js's own pool, measured: about 45 % more
   * per second with 2 connections than with 20). A slow statement delays those queued behind it on its
   * connection. Transactions have their own connections.
   * @default 4
   */
  statementConnections?: number;
  /**
   * Transaction connections opened at start-up (POSTGRES_MIN_CONNECTIONS), besides the
   * `statementConnections`, so the first requests do not pay for connecting. No floor is kept: a
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
  const maxConnections = Math.max(3, options.maxConnections ?? 100);
  const settings = {
    maxConnections,
    statementConnections: Math.max(1, Math.min(options.statementConnections ?? 4, Math.floor(maxConnections / 2), maxConnections - 2)),
    minConnections: options.minConnections ?? 10,
    connectTimeout: options.connectTimeout ?? 5,
    maxLifetime: options.maxLifetime ?? 1800,
    idleTimeout: options.idleTimeout ?? 600,
    lockTimeout: options.lockTimeout ?? 15,
    preparedStatements: options.preparedStatements ?? true,
  };
  /** Transactions' connections, and statements' (see `statementConnections`): postgres.js clients of one connection each. */
  let transactionPool: Clients | undefined;
  let statements: Clients | undefined;
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
  const statementPool = () => {
    if (!statements) throw new PluginError(NAME, "not initialised", { unavailable: true });
    return statements;
  };
  const transaction = <T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T> => db().transaction().execute(fn);
  const lockTimeoutMs = String(settings.lockTimeout * 1000);
  // Every write takes a lock: its statement is written once, not built by Kysely per call.
  const lock = async (tx: DbTransaction, name: string) => {
    await tx.executeQuery(CompiledQuery.raw(LOCK_SQL, [lockTimeoutMs, LOCK_SPACE, lockKey(name)]));
  };

  return {
    kind: "db",
    name: NAME,
    dialect: "postgres",
    shared: true,
    db,
    async init(ctx) {
      log = ctx.log;
      const metrics = createDbMetrics(ctx.metrics, settings.maxConnections, () => (transactionPool?.inUse ?? 0) + (statements?.inUse ?? 0));
      const client = () =>
        postgresjs(target.url, {
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
          max: 1,
          max_lifetime: settings.maxLifetime,
          idle_timeout: settings.idleTimeout,
          connection: { application_name: "aurora" },
        });
      transactionPool = new Clients(client, settings.maxConnections - settings.statementConnections);
      statements = new Clients(client, settings.statementConnections);
      kysely = new Kysely<DatabaseSchema>({
        dialect: metrics.instrument(new PostgresJsDialect({ transactions: transactionPool, statements }, toError, settings.preparedStatements)),
        log: metrics.log,
      });
      try {
        // The statement pool whole, the transaction pool up to minConnections.
        await Promise.all([statements.warm(statements.size), transactionPool.warm(settings.minConnections)]);
      } catch (cause) {
        throw new PluginError(NAME, `cannot connect to ${redactUrl(options.url)}: ${(cause as Error).message}`, {
          cause,
          unavailable: true,
        });
      }
    },
    async health() {
      try {
        const clients = statementPool();
        await withRetries(() => clients.run((sql) => sql`select 1`), retryPolicy(true, clients.size));
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
      statementPool();
      listener ??= new PostgresListener(target, settings.connectTimeout, hub, () => log);
      return listener.listen(channel, handler);
    },
    describe: () => ({ url: redactUrl(options.url), ...settings }),
    async close() {
      const [closingListener, closingPools] = [listener, [transactionPool, statements]];
      listener = transactionPool = statements = kysely = undefined;
      hub.clear();
      await closingListener?.close();
      // Callers close after draining requests, so a short grace suffices. It is always used up
      // after an outage: postgres.js keeps a failed query on a connection that never reconnected.
      await Promise.all(closingPools.map((clients) => clients?.end(1)));
    },
  };
}

/**
 * A transaction-level advisory lock, waiting at most $1 ms: set_config in a CTE runs first, and `true`
 * scopes lock_timeout to this transaction. $2/$3 the lock's keys.
 */
const LOCK_SQL = `with t as (select set_config('lock_timeout', $1, true))
  select pg_advisory_xact_lock($2::int4, $3::int4) from t`;

/** A lock name as the second int4 key of an advisory lock; a collision only makes two names share a lock. */
function lockKey(name: string): number {
  return Bun.hash.crc32(name) | 0;
}
