import { CompiledQuery, type ControlledTransaction } from "kysely";
import { type DatabaseSchema, type Db, type DbTransaction, immediateRunner } from "@/plugin-kit";

/** At most this many transactions share one COMMIT, */
const MAX_GROUP = 32;
/** and no transaction joins a group that has been open this long (ms), so readers waiting for the connection get a turn. */
const MAX_GROUP_MS = 20;

/** The group's savepoint statements, compiled once: g0 … g(MAX_GROUP - 1). */
const SAVEPOINT = Array.from({ length: MAX_GROUP }, (_, i) => CompiledQuery.raw(`savepoint g${i}`));
const RELEASE = Array.from({ length: MAX_GROUP }, (_, i) => CompiledQuery.raw(`release g${i}`));
const ROLLBACK_TO = Array.from({ length: MAX_GROUP }, (_, i) => CompiledQuery.raw(`rollback to g${i}`));

/**
 * `query` on the group's transaction, through the driver's immediate runner: the transaction holds the one
 * connection, so it runs on the spot, past Kysely's executor (in process 0.75 -> 0.70 ms CPU per write).
 */
async function run(trx: DbTransaction, query: CompiledQuery): Promise<void> {
  if (await immediateRunner(trx.getExecutor().adapter)?.run(query, true)) return;
  await trx.executeQuery(query);
}

interface Job {
  fn: (tx: DbTransaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for SQLite's one write connection. With `synchronous = FULL`
 * every COMMIT waits for a WAL fsync, on the JavaScript thread (bun:sqlite is
 * synchronous): measured, that wait and its system time were over half of a
 * createRecord's cost. Transactions that arrive while one runs wait in a queue
 * (they would wait for the connection anyway); when it finishes, the next ones
 * run in the same database transaction, each inside a SAVEPOINT of its own,
 * and one COMMIT — one fsync — makes the whole group durable. Then, and only
 * then, each transaction's caller gets its result: nothing is acknowledged
 * before it is on disk, exactly as with one COMMIT each.
 *
 * A transaction that throws is rolled back to its savepoint and its caller
 * gets the error; the others of its group are not affected. When SQLite has
 * rolled back the whole transaction by itself (SQLITE_FULL, SQLITE_IOERR, ...)
 * or the COMMIT fails, every transaction of the group gets that error: none
 * of them was acknowledged, none is on disk. Transactions run one after the
 * other, in arrival order, so each sees the ones before it as a serial
 * schedule would.
 */
export class GroupCommit {
  private readonly queue: Job[] = [];
  private draining = false;

  constructor(
    private readonly db: () => Db,
    private readonly inTransaction: () => boolean,
  ) {}

  run<T>(fn: (tx: DbTransaction) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) await this.group();
    } finally {
      this.draining = false;
    }
  }

  private async group(): Promise<void> {
    // Let what is ready to run go first — callers of the last group answering, reads waiting for the
    // connection, writers on their way here — so they join this group rather than each open one.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let trx: ControlledTransaction<DatabaseSchema>;
    try {
      trx = await this.db().startTransaction().execute();
    } catch (err) {
      // Not even BEGIN: the first waiting transaction fails with that error, the rest try again.
      this.queue.shift()!.reject(err);
      return;
    }
    const started = performance.now();
    const done: { job: Job; value: unknown }[] = [];
    while (this.queue.length > 0 && done.length < MAX_GROUP && (done.length === 0 || performance.now() - started < MAX_GROUP_MS)) {
      const job = this.queue.shift()!;
      try {
        await run(trx, SAVEPOINT[done.length]!);
        const value = await job.fn(trx);
        await run(trx, RELEASE[done.length]!);
        done.push({ job, value });
      } catch (err) {
        if (!this.inTransaction() || !(await this.undo(trx, done.length))) {
          // SQLite undid the whole transaction (or cannot undo this part): nothing of the group is on disk.
          await this.abandon(trx);
          job.reject(err);
          for (const d of done) d.job.reject(err);
          return;
        }
        job.reject(err);
      }
    }
    try {
      await trx.commit().execute();
    } catch (err) {
      await this.abandon(trx);
      for (const d of done) d.job.reject(err);
      return;
    }
    for (const d of done) d.job.resolve(d.value);
  }

  /** Roll the group's transaction number `index` back to its savepoint; false when that fails. */
  private async undo(trx: DbTransaction, index: number): Promise<boolean> {
    try {
      await run(trx, ROLLBACK_TO[index]!);
      await run(trx, RELEASE[index]!);
      return true;
    } catch {
      return false;
    }
  }

  /** Roll back whatever is left of the group's transaction and hand the connection back. */
  private async abandon(trx: ControlledTransaction<DatabaseSchema>): Promise<void> {
    try {
      await trx.rollback().execute();
    } catch {
      // The driver skips a rollback SQLite already did; anything else leaves nothing more to undo here.
    }
  }
}
