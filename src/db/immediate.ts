import type { CompiledQuery, DialectAdapter, QueryResult } from "kysely";

/**
 * A driver that can run a compiled statement at once, on the caller's turn,
 * without Kysely's executor (a query id, a connection handed out and back
 * through promises, the result passed through its plugins): that machinery
 * costs more than a small SQLite statement itself (measured on getRecord's
 * lookup). Only prepared queries (src/db/prepared.ts) take this way; every
 * other query goes through Kysely as before.
 */
export interface ImmediateRunner {
  /**
   * `query`'s result, run now; undefined when it cannot be run now and must
   * go through Kysely instead. SQLite (one connection, synchronous) answers
   * with the result itself, and declines outside a transaction while anyone
   * holds or waits for the connection, inside one (`inTransaction`) unless
   * the connection is held (by that transaction). PostgreSQL answers with a
   * promise of the pool's result outside a transaction, and declines inside
   * one (its connection is the transaction's, reached through Kysely).
   * A statement that fails throws, or rejects, with the driver's error.
   */
  run<R>(query: CompiledQuery, inTransaction: boolean): QueryResult<R> | Promise<QueryResult<R>> | undefined;
}

/** Keyed by the dialect adapter, which each Kysely instance has one of and its transactions share. */
const runners = new WeakMap<DialectAdapter, ImmediateRunner>();

/** Offer `runner` for the Kysely instance that has `adapter` (a dialect calls this from `createAdapter`). */
export function offerImmediate(adapter: DialectAdapter, runner: ImmediateRunner): void {
  runners.set(adapter, runner);
}

/** The runner offered for `adapter`, if its dialect has one. */
export function immediateRunner(adapter: DialectAdapter): ImmediateRunner | undefined {
  return runners.get(adapter);
}
