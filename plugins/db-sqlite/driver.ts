import type { Database, SQLQueryBindings, Statement } from "bun:sqlite";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type LimitNode,
  type OffsetNode,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type TransactionSettings,
} from "kysely";
import { type ImmediateRunner, offerImmediate } from "@/plugin-kit";

/** Prepared statements kept per connection; Kysely's `in (...)` lists make the set of SQL texts open-ended. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely over bun:sqlite with one connection. Written here rather than taken
 * from kysely-bun-sqlite because writers must start with `BEGIN IMMEDIATE`:
 * a deferred transaction that reads first and writes later can fail with
 * SQLITE_BUSY when another process (e.g. `aurora migrate`) writes meanwhile,
 * whereas IMMEDIATE waits for the busy timeout up front. It also maps driver
 * errors through `toError` so callers only ever see `DbError`s.
 */
export class BunSqliteDialect implements Dialect {
  readonly #driver: BunSqliteDriver;

  constructor(database: Database, toError: (err: unknown) => unknown) {
    this.#driver = new BunSqliteDriver(new BunSqliteConnection(database, toError));
  }
  /** The adapter of one Kysely instance; its prepared queries may run on the spot (src/db/immediate.ts). */
  createAdapter() {
    const adapter = new TransactionalDdlAdapter();
    offerImmediate(adapter, this.#driver);
    return adapter;
  }
  createDriver(): Driver {
    return this.#driver;
  }
  createQueryCompiler() {
    return new RuntimeLimitCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db);
  }
}

/**
 * `limit +?` instead of `limit ?` (and the same for offset). SQLite plans a
 * bare bound LIMIT with the value bound at the time (EXPLAIN shows it as a
 * constant), so binding it again, which every run does, prepares the
 * statement again: 10–12 µs a query here, whatever the rows (listRecords'
 * page query: 15 µs for one row, 2.5 µs with `+?`). As an expression the
 * value is read when the statement runs, and the prepared plan is kept.
 */
class RuntimeLimitCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    this.append("limit +");
    this.visitNode(node.limit);
  }

  protected override visitOffset(node: OffsetNode): void {
    this.append("offset +");
    this.visitNode(node.offset);
  }
}

/** SQLite runs DDL inside transactions; saying so makes Kysely's migrator apply a batch atomically. */
class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/**
 * One connection, handed to one user at a time in FIFO order: a transaction holds it until it ends.
 * A prepared statement may also run on it at once (`run`) when that cannot overtake anyone: nobody
 * holds or waits for it, or the caller's own transaction holds it.
 */
class BunSqliteDriver implements Driver, ImmediateRunner {
  #tail: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;
  /** Users holding or waiting for the connection. */
  #users = 0;
  #destroyed = false;

  constructor(private readonly connection: BunSqliteConnection) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#users++;
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise((resolve) => (release = resolve));
    await previous;
    this.#release = release;
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    this.#users--;
    release?.();
  }

  run<R>(query: CompiledQuery, inTransaction: boolean): QueryResult<R> | undefined {
    // With one connection, a transaction that runs a query is the one holding it.
    const now = inTransaction ? this.#release !== undefined : this.#users === 0;
    return now && !this.#destroyed ? this.connection.runNow<R>(query) : undefined;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const begin = settings.accessMode === "read only" ? "begin deferred" : "begin immediate";
    await connection.executeQuery(CompiledQuery.raw(begin));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }
  /**
   * SQLite rolls a transaction back by itself on some errors (SQLITE_FULL,
   * SQLITE_IOERR, ...); a second rollback would then fail with "no transaction
   * is active" and that error would replace the one that says why.
   */
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!(connection as BunSqliteConnection).inTransaction) return;
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }
  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quote(name)}`));
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quote(name)}`));
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quote(name)}`));
  }

  async destroy(): Promise<void> {
    this.#destroyed = true;
    this.connection.close();
  }
}

/** A prepared statement and whether it returns rows (bun:sqlite's `columnNames` is computed on every read). */
type Prepared = { stmt: Statement; reads: boolean };

class BunSqliteConnection implements DatabaseConnection {
  /** LRU by insertion order: a hit is moved to the end, the first entry is the eldest. */
  readonly #statements = new Map<string, Prepared>();

  constructor(
    private readonly db: Database,
    private readonly toError: (err: unknown) => unknown,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.runNow(query);
  }

  /** `query` run on this connection now (bun:sqlite is synchronous). */
  runNow<R>(query: CompiledQuery): QueryResult<R> {
    try {
      const { stmt, reads } = this.#prepare(query.sql);
      const params = query.parameters as SQLQueryBindings[];
      if (reads) return { rows: stmt.all(...params) as R[] };
      const { changes, lastInsertRowid } = stmt.run(...params);
      return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
    } catch (err) {
      throw this.toError(err);
    }
  }

  /** The rows of `query` in chunks of `chunkSize` (one statement stepped through), each chunk handed over as it fills. */
  async *streamQuery<R>(query: CompiledQuery, chunkSize = 1): AsyncIterableIterator<QueryResult<R>> {
    let stmt: Statement | undefined;
    try {
      stmt = this.db.prepare(query.sql);
      let rows: R[] = [];
      for (const row of stmt.iterate(...(query.parameters as SQLQueryBindings[]))) {
        rows.push(row as R);
        if (rows.length < chunkSize) continue;
        yield { rows };
        rows = [];
      }
      if (rows.length > 0) yield { rows };
    } catch (err) {
      throw this.toError(err);
    } finally {
      stmt?.finalize();
    }
  }

  /** False once SQLite has ended the transaction itself, e.g. rolled it back on a full disk. */
  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  close(): void {
    for (const { stmt } of this.#statements.values()) stmt.finalize();
    this.#statements.clear();
    this.db.close();
  }

  /**
   * The statement for `sql`, prepared once. Texts of queries prepared in
   * src/db/prepared.ts are the same string every time, so the lookup hashes
   * them once; a text Kysely has just built is hashed (and flattened) here.
   */
  #prepare(sql: string): Prepared {
    const cached = this.#statements.get(sql);
    if (cached) {
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const stmt = this.db.prepare(sql);
    // Statements that return columns (SELECT, ... RETURNING, PRAGMA) are read; the rest are run.
    const prepared = { stmt, reads: stmt.columnNames.length > 0 };
    this.#statements.set(sql, prepared);
    if (this.#statements.size > STATEMENT_CACHE_SIZE) {
      const [eldest, old] = this.#statements.entries().next().value as [string, Prepared];
      this.#statements.delete(eldest);
      old.stmt.finalize();
    }
    return prepared;
  }
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
