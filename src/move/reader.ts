import type { DatabasePlugin, DbTransaction } from "@/contracts/db";

/** Runs one read of the source; every read goes through a read-only snapshot transaction, so the source is never written. */
export type Reader = <T>(fn: (tx: DbTransaction) => Promise<T>) => Promise<T>;

/**
 * Give `fn` a reader over `db`. With `oneSnapshot` every read sees the same
 * consistent state (what a backup of a running server needs; the snapshot is
 * held until `fn` ends); otherwise each read is a snapshot of its own, which
 * is enough when the source server is stopped, as a move asks.
 */
export function withReader<T>(db: DatabasePlugin, oneSnapshot: boolean, fn: (read: Reader) => Promise<T>): Promise<T> {
  if (oneSnapshot) return db.snapshot((tx) => fn((query) => query(tx)));
  return fn((query) => db.snapshot(query));
}
