import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
import type postgresjs from "postgres";
import { DbError, offerImmediate } from "@/plugin-kit";
import type { Clients } from "./clients";
import { retryPolicy, withRetries } from "./pool";

type TransactionSql = postgresjs.TransactionSql;
type Params = postgresjs.ParameterOrJSON<never>[];

/** The two pools the dialect runs on (see the plugin's `statementConnections`). */
export interface PostgresPools {
  /** Transactions (`sql.begin`), and streamed queries, which hold their connection while a cursor is read: clients lent. */
  transactions: Clients;
  /** Every other statement, alone in its implicit transaction: clients shared, pipelined by postgres.js. */
  statements: Clients;
}

/**
 * Kysely over pools of postgres.js clients (clients.ts). Written here rather than taken from
 * kysely-postgres-js, whose driver reserves a connection per query with
 * `sql.reserve()`: in postgres.js 3.4 a reserved connection that dies is put
 * back in the pool on release with no socket, and the next query on it
 * throws an uncaught TypeError and hangs. Here single statements go straight
 * to their pool (which reconnects dead connections by itself) and
 * transactions run inside `sql.begin()`, which handles a dying connection
 * correctly.
 */
export class PostgresJsDialect implements Dialect {
  constructor(
    private readonly pools: PostgresPools,
    private readonly toError: (err: unknown) => unknown,
    /** Named prepared statements, cached per connection (off for PgBouncer in transaction mode). */
    private readonly prepare = true,
  ) {}
  createAdapter() {
    const adapter = new ExternalLockAdapter();
    // Prepared statements outside a transaction go straight to the pool, past Kysely's executor (src/db/immediate.ts).
    offerImmediate(adapter, {
      run: (query, inTransaction) => (inTransaction ? undefined : poolQuery(this.pools, query, this.toError, this.prepare)),
    });
    return adapter;
  }
  createDriver(): Driver {
    return new PostgresJsDriver(this.pools, this.toError, this.prepare);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}

/**
 * Kysely's migrator takes a session-level advisory lock through
 * `db.connection()`; our connections are not pinned to one session, so that
 * lock could be released on another session. The plugin's
 * `withMigrationLock` (a transaction-level lock held around the whole run)
 * replaces it.
 */
class ExternalLockAdapter extends PostgresAdapter {
  override async acquireMigrationLock(): Promise<void> {}
  override async releaseMigrationLock(): Promise<void> {}
}

class PostgresJsDriver implements Driver {
  constructor(
    private readonly pools: PostgresPools,
    private readonly toError: (err: unknown) => unknown,
    private readonly prepare: boolean,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PostgresJsConnection(this.pools, this.toError, this.prepare);
  }

  async releaseConnection(): Promise<void> {}

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await (connection as PostgresJsConnection).begin(settings);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PostgresJsConnection).end(true);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PostgresJsConnection).end(false);
  }
  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quote(name)}`));
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quote(name)}`));
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quote(name)}`));
  }

  async destroy(): Promise<void> {
    // The plugin owns the pool and ends it (with a grace period) in close().
  }
}

/** Rejects a transaction's body so postgres.js rolls it back; never surfaces. */
const ROLLBACK = Symbol("rollback");

/**
 * Outside a transaction: the statement pool. Inside one: the transaction's
 * connection from the transaction pool, bridged from postgres.js's callback
 * style to Kysely's begin/commit/rollback.
 */
class PostgresJsConnection implements DatabaseConnection {
  #tx: TransactionSql | undefined;
  #settle: ((commit: boolean) => void) | undefined;
  #done: Promise<unknown> | undefined;
  /** The error that killed the transaction's connection: postgres.js must not be given more queries for it. */
  #broken: unknown;

  constructor(
    private readonly pools: PostgresPools,
    private readonly toError: (err: unknown) => unknown,
    private readonly prepare: boolean,
  ) {}

  async begin(settings: TransactionSettings): Promise<void> {
    const mode = [
      settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : "",
      settings.accessMode ?? "",
    ].join(" ").trim();
    try {
      // A BEGIN that was never sent (see retryPolicy) leaves nothing behind: open the transaction again.
      await withRetries(() => this.#open(mode), retryPolicy(false, this.pools.transactions.size));
    } catch (err) {
      this.#reset();
      throw this.toError(err);
    }
  }

  /** Start `sql.begin` on a client lent until it ends, and resolve once its body runs, or reject with why it could not start. */
  async #open(mode: string): Promise<void> {
    this.#reset();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const clients = this.pools.transactions;
    const client = await clients.acquire();
    this.#done = client.begin(mode, (tx) => {
      this.#tx = tx;
      opened();
      return new Promise((resolve, reject) => {
        this.#settle = (commit) => (commit ? resolve(undefined) : reject(ROLLBACK));
      });
    });
    this.#done.then(
      () => clients.release(client),
      () => clients.release(client),
    );
    // Attached at once so a connection lost mid-transaction is never an unhandled rejection.
    const failed = this.#done.then(
      () => undefined,
      (err) => {
        this.#broken = err;
        throw err;
      },
    );
    failed.catch(() => {});
    await Promise.race([open, failed]);
  }

  async end(commit: boolean): Promise<void> {
    const done = this.#done;
    try {
      // On a dead connection postgres.js would still send COMMIT/ROLLBACK and crash on its null
      // socket; the server has rolled the transaction back already, so leave its body unsettled.
      if (this.#broken !== undefined) {
        if (commit) throw this.toError(this.#broken);
        return;
      }
      this.#settle?.(commit);
      await done;
    } catch (err) {
      // A rollback that fails (the connection is gone) has rolled back all the same.
      if (commit && err !== ROLLBACK) throw this.toError(err);
    } finally {
      this.#reset();
    }
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#broken !== undefined) throw this.toError(this.#broken);
    if (!this.#tx) return poolQuery(this.pools, query, this.toError, this.prepare);
    try {
      return queryResult(await this.#tx.unsafe(query.sql, query.parameters as Params, { prepare: this.prepare }));
    } catch (err) {
      throw this.#failed(err);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    if (this.#broken !== undefined) throw this.toError(this.#broken);
    // Outside a transaction on a client lent too: a cursor holds its connection until it is read to the end.
    const lent = this.#tx ? undefined : await this.pools.transactions.acquire();
    const runner = this.#tx ?? lent!;
    try {
      const cursor = runner.unsafe(query.sql, query.parameters as Params, { prepare: this.prepare }).cursor(chunkSize);
      for await (const rows of cursor) {
        yield { rows: Array.from(rows) as R[] };
      }
    } catch (err) {
      throw this.#failed(err);
    } finally {
      if (lent) this.pools.transactions.release(lent);
    }
  }

  /** The error a statement of this connection failed with, as a DbError; a lost connection marks the transaction broken. */
  #failed(err: unknown): unknown {
    const mapped = this.toError(err);
    // Lost connection (not a lock timeout, which leaves the transaction usable for its rollback).
    if (this.#tx && mapped instanceof DbError && mapped.reason === "unavailable") this.#broken = err;
    return mapped;
  }

  #reset(): void {
    this.#broken = undefined;
    this.#tx = undefined;
    this.#settle = undefined;
    this.#done = undefined;
  }
}

/**
 * A statement outside any transaction, on the statement pool (which reconnects dead connections by itself).
 * It stands alone, so it is sent again when that cannot apply it twice (see retryPolicy).
 */
async function poolQuery<R>(
  pools: PostgresPools,
  query: CompiledQuery,
  toError: (err: unknown) => unknown,
  prepare: boolean,
): Promise<QueryResult<R>> {
  const send = () => pools.statements.run((sql) => sql.unsafe(query.sql, query.parameters as Params, { prepare }));
  try {
    const retry = retryPolicy(query.query.kind === "SelectQueryNode", pools.statements.size);
    return queryResult(await withRetries(send, retry));
  } catch (err) {
    throw toError(err);
  }
}

function queryResult<R>(result: postgresjs.RowList<postgresjs.Row[]>): QueryResult<R> {
  const counted = ["INSERT", "UPDATE", "DELETE", "MERGE"].includes(result.command);
  return { rows: Array.from(result) as R[], numAffectedRows: counted ? BigInt(result.count) : undefined };
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
