import type { Kysely } from "kysely";
import { BlobNotFoundError, type BlobRead } from "@/contracts/blob-store";
import type { DbTransaction } from "@/contracts/db";
import { type Checkpoint, saveCheckpoint } from "./checkpoint";
import type { StageReport } from "./copy-table";
import type { Endpoint } from "./endpoint";
import { throwIfInterrupted } from "./errors";
import type { Progress } from "./progress";
import { pool } from "./pool";
import type { Reader } from "./reader";

export interface BlobCopyOptions {
  progress: Progress;
  /** Blob rows per page (one checkpoint per page). @default 100 */
  batchRows?: number;
  /** Blobs streamed at once. @default 4 */
  concurrency?: number;
  /** Record checkpoints in the target database (false when the target database is the source's). */
  checkpoints: boolean;
  /** Ask the target store first and skip blobs it already has (a resume, or a store both sides share). */
  checkPresent: boolean;
  signal?: AbortSignal;
}

/** The blob row fields the blob stage and the check need. */
export interface BlobRow {
  did: string;
  cid: string;
  size: number;
  takedown_ref: string | null;
}

/** The checkpoint stage name of the blob bytes. */
export const BLOB_STAGE = "blob bytes";

/**
 * Stream the bytes of every permanent blob row of the source into the
 * target's store: `get` → `putTemp` → `makePermanent`, so no blob is ever
 * whole in memory. Taken-down blobs (the row's takedown_ref, or bytes the
 * source store holds quarantined) are read with `getQuarantined` and
 * quarantined in the target after `makePermanent`, so an untakedown on the
 * target finds their bytes. A blob the target already has at the same size
 * is not sent again (a resume, or a store both sides share), only
 * quarantined when it should be and is not yet (a copy cut between the two
 * steps). Left behind, and said so in the report: rows whose bytes the
 * source store has lost, and unfinished uploads.
 */
export async function copyBlobBytes(read: Reader, from: Endpoint, to: Endpoint, at: Checkpoint | undefined, opts: BlobCopyOptions): Promise<StageReport> {
  const started = performance.now();
  const pageSize = opts.batchRows ?? 100;
  const totals = await read((tx) => blobTotals(tx));
  const stage = opts.progress.stage(BLOB_STAGE, totals.bytes, "bytes");
  let rows = at?.rows ?? 0;
  let bytes = at?.bytes ?? 0;
  stage.advance(bytes);
  const lost: string[] = [];
  let after = at?.after ?? null;
  if (!at?.done) {
    for (let pages = 0; pages <= totals.rows + 1; pages++) {
      throwIfInterrupted(opts.signal);
      const page = await read((tx) => readBlobPage(tx, after, pageSize));
      if (page.length === 0) break;
      await pool(page, opts.concurrency ?? 4, async (row) => {
        const copied = await copyOne(from, to, row, opts.checkPresent, (n) => stage.advance(n));
        if (copied === "lost") lost.push(`${row.did} ${row.cid}`);
        else bytes += row.size;
      });
      rows += page.length;
      after = [page[page.length - 1]!.did, page[page.length - 1]!.cid];
      const done = page.length < pageSize;
      const checkpoint = { after, rows, bytes, done };
      if (opts.checkpoints) await to.db.transaction((tx) => saveCheckpoint(tx, BLOB_STAGE, checkpoint));
      if (done) break;
    }
    if (opts.checkpoints) await to.db.transaction((tx) => saveCheckpoint(tx, BLOB_STAGE, { after, rows, bytes, done: true }));
  }
  stage.done();
  const notes: string[] = [];
  if (lost.length > 0) notes.push(`${lost.length} blob row(s) whose bytes the source store does not have: ${lost.slice(0, 10).join(", ")}`);
  if (totals.unfinished > 0) notes.push(`${totals.unfinished} unfinished upload(s) not moved (no record references them; their clients upload again)`);
  return { stage: BLOB_STAGE, rows, bytes, skipped: lost.length + totals.unfinished, notes, ms: performance.now() - started };
}

/**
 * Copy one blob; "present" when the target already had it, "lost" when the
 * source store has no bytes for it, served or quarantined.
 */
async function copyOne(from: Endpoint, to: Endpoint, row: BlobRow, checkPresent: boolean, advance: (n: number) => void): Promise<"copied" | "present" | "lost"> {
  const takenDown = row.takedown_ref !== null;
  const there = checkPresent ? await to.blobs.stat(row.did, row.cid) : null;
  if (there && there.size === row.size) {
    if (takenDown && !there.quarantined) await to.blobs.quarantine(row.did, row.cid);
    advance(row.size);
    return "present";
  }
  const source = await openSource(from, row);
  if (!source) return "lost";
  const { key } = await to.blobs.putTemp(counted(source.read.stream, advance));
  await to.blobs.makePermanent(key, row.did, row.cid);
  if (takenDown || source.quarantined) await to.blobs.quarantine(row.did, row.cid);
  return "copied";
}

/**
 * The source's bytes of a blob row: quarantined first when the row is taken
 * down, served first otherwise, then the other (a takedown whose move of
 * the bytes failed, or one made while a live source was being read); null
 * when the source store has neither.
 */
async function openSource(from: Endpoint, row: BlobRow): Promise<{ read: BlobRead; quarantined: boolean } | null> {
  const order = row.takedown_ref !== null ? [true, false] : [false, true];
  for (const quarantined of order) {
    try {
      const read = quarantined ? await from.blobs.getQuarantined(row.did, row.cid) : await from.blobs.get(row.did, row.cid);
      return { read, quarantined };
    } catch (err) {
      if (!(err instanceof BlobNotFoundError)) throw err;
    }
  }
  return null;
}

async function* counted(stream: ReadableStream<Uint8Array>, advance: (n: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of stream) {
    advance(chunk.byteLength);
    yield chunk;
  }
}

/** Permanent blob rows and their bytes, and how many unfinished uploads are left behind. */
export async function blobTotals(tx: DbTransaction): Promise<{ rows: number; bytes: number; unfinished: number }> {
  const db = tx as unknown as Kysely<any>;
  const permanent = (await db
    .selectFrom("blob")
    .select((eb) => [eb.fn.countAll().as("n"), eb.fn.sum("size").as("b")])
    .where("temp_key", "is", null)
    .executeTakeFirst()) as { n: unknown; b: unknown } | undefined;
  const temp = (await db
    .selectFrom("blob")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("temp_key", "is not", null)
    .executeTakeFirst()) as { n: unknown } | undefined;
  return { rows: Number(permanent?.n ?? 0), bytes: Number(permanent?.b ?? 0), unfinished: Number(temp?.n ?? 0) };
}

/** One page of permanent blob rows in (did, cid) order after `after`. */
export function readBlobPage(tx: DbTransaction, after: unknown[] | null, limit: number): Promise<BlobRow[]> {
  let q = tx.selectFrom("blob").select(["did", "cid", "size", "takedown_ref"]).where("temp_key", "is", null);
  if (after) q = q.where((eb) => eb(eb.refTuple("did", "cid"), ">", eb.tuple(String(after[0]), String(after[1]))));
  return q.orderBy("did").orderBy("cid").limit(limit).execute();
}
