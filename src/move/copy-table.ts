import { type Kysely, type SqlBool, sql } from "kysely";
import type { DbTransaction } from "@/contracts/db";
import { advanceSerial, serialPosition } from "@/db/dialect";
import { inBatches } from "@/util/in-batches";
import { type Checkpoint, saveCheckpoint } from "./checkpoint";
import type { Endpoint } from "./endpoint";
import { throwIfInterrupted } from "./errors";
import type { Progress } from "./progress";
import type { Reader } from "./reader";
import { MOVED_ROWS, type TableSpec } from "./tables";

/** What one stage did. */
export interface StageReport {
  stage: string;
  /** Rows (blobs, for the blob stage) read from the source, this run and any earlier run it resumed. */
  rows: number;
  /** Bytes copied (the blob stage). */
  bytes: number;
  /** Rows or blobs deliberately left behind (see `notes`). */
  skipped: number;
  /** What the operator should know: what was left behind and why. */
  notes: string[];
  ms: number;
}

export interface TableCopyOptions {
  progress: Progress;
  /** Rows per page (one read, one target transaction). */
  batchRows: number;
  signal?: AbortSignal;
}

type AnyDb = Kysely<any>;
type AnyRow = Record<string, unknown>;

/** Bound variables per insert statement: under SQLite's 32766 and PostgreSQL's 65535. */
const MAX_VARIABLES = 30_000;
/**
 * Pages start small and double up to `batchRows` while they weigh under a
 * quarter of this; one heavier than this halves the next. Event rows carry
 * whole commit diffs (tens of KiB each), so a fixed 500-row page of them
 * could be tens of MiB read, held and sent at once.
 */
const PAGE_BYTES = 8 * 1024 * 1024;
const FIRST_PAGE = 50;

/**
 * Copy one table in primary-key order, a page at a time: read from the
 * source (read-only), insert into the target with ON CONFLICT DO NOTHING and
 * record the checkpoint in the same target transaction. A resumed copy
 * starts after the checkpoint, and a page it repeats changes nothing.
 */
export async function copyTable(read: Reader, to: Endpoint, spec: TableSpec, from: Endpoint, at: Checkpoint | undefined, opts: TableCopyOptions): Promise<StageReport> {
  const started = performance.now();
  const total = await read((tx) => countRows(tx, spec));
  const stage = opts.progress.stage(spec.name, total, "rows");
  let rows = at?.rows ?? 0;
  stage.advance(rows);
  if (!at?.done) {
    let after = at?.after ?? null;
    let limit = Math.min(opts.batchRows, FIRST_PAGE);
    // Each page moves the keyset strictly forward; the bound only guards against a source changing under a stopped server.
    for (let pages = 0; pages <= total + 1; pages++) {
      throwIfInterrupted(opts.signal);
      const page = await read((tx) => readPage(tx, spec, after, limit));
      if (page.length === 0) break;
      after = spec.key.map((k) => page[page.length - 1]![k]);
      const last = page.length < limit;
      await to.db.transaction(async (tx) => {
        await insertRows(tx, spec.name, page);
        await saveCheckpoint(tx, spec.name, { after, rows: rows + page.length, bytes: 0, done: last });
      });
      rows += page.length;
      stage.advance(page.length);
      if (last) break;
      const weight = weigh(page);
      if (weight > PAGE_BYTES) limit = Math.max(1, Math.floor(limit / 2));
      else if (weight < PAGE_BYTES / 4) limit = Math.min(opts.batchRows, limit * 2);
    }
    await to.db.transaction((tx) => saveCheckpoint(tx, spec.name, { after, rows, bytes: 0, done: true }));
  }
  if (spec.serial) await moveSerialOn(read, from, to, spec.name, spec.serial);
  stage.done();
  return { stage: spec.name, rows, bytes: 0, skipped: 0, notes: [], ms: performance.now() - started };
}

/** Rows of `spec` the copy moves, in the source. */
export async function countRows(tx: DbTransaction, spec: TableSpec): Promise<number> {
  let q = (tx as unknown as AnyDb).selectFrom(spec.name).select((eb) => eb.fn.countAll().as("n"));
  const filter = MOVED_ROWS[spec.name];
  if (filter) q = q.where(filter);
  const row = (await q.executeTakeFirst()) as { n: number | string | bigint } | undefined;
  return Number(row?.n ?? 0);
}

function readPage(tx: DbTransaction, spec: TableSpec, after: unknown[] | null, limit: number): Promise<AnyRow[]> {
  let q = (tx as unknown as AnyDb).selectFrom(spec.name).selectAll();
  const filter = MOVED_ROWS[spec.name];
  if (filter) q = q.where(filter);
  if (after) {
    const cols = sql.join(spec.key.map((k) => sql.ref(k)));
    const vals = sql.join(after.map((v) => sql`${v}`));
    // A row value comparison: the index order on both dialects, whatever the key's width.
    q = q.where(spec.key.length === 1 ? sql<SqlBool>`${sql.ref(spec.key[0]!)} > ${after[0]}` : sql<SqlBool>`(${cols}) > (${vals})`);
  }
  for (const k of spec.key) q = q.orderBy(k);
  return q.limit(limit).execute() as Promise<AnyRow[]>;
}

async function insertRows(tx: DbTransaction, table: string, rows: AnyRow[]): Promise<void> {
  const columns = Object.keys(rows[0] ?? {}).length || 1;
  await inBatches(
    rows,
    (chunk) => (tx as unknown as AnyDb).insertInto(table).values(chunk).onConflict((oc) => oc.doNothing()).execute(),
    Math.max(1, Math.floor(MAX_VARIABLES / columns)),
  );
}

/**
 * Move the target's counter for `table.column` past everything the source
 * handed out, so the next event gets the next number and no cursor a relay
 * holds is ever reused.
 */
async function moveSerialOn(read: Reader, from: Endpoint, to: Endpoint, table: string, column: string): Promise<void> {
  const handedOut = await read(async (tx) => {
    const db = tx as unknown as AnyDb;
    const max = (await db.selectFrom(table).select((eb) => eb.fn.max(column).as("m")).executeTakeFirst()) as { m: number | null } | undefined;
    return Math.max(Number(max?.m ?? 0), await serialPosition(db, from.db.dialect, table, column));
  });
  await to.db.transaction((tx) => advanceSerial(tx as unknown as AnyDb, to.db.dialect, table, column, handedOut));
}

/** Rough weight of a page's values in bytes. */
function weigh(rows: AnyRow[]): number {
  let bytes = 0;
  for (const row of rows) {
    for (const v of Object.values(row)) bytes += v instanceof Uint8Array ? v.byteLength : typeof v === "string" ? v.length : 8;
  }
  return bytes;
}
