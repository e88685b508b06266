import type { Kysely } from "kysely";
import { CID } from "multiformats/cid";
import { BlobNotFoundError, type BlobRead } from "@/contracts/blob-store";
import type { Db } from "@/contracts/db";
import { inBatches } from "@/util/in-batches";
import { type BlobRow, readBlobPage } from "./copy-blobs";
import { countRows } from "./copy-table";
import type { Endpoint } from "./endpoint";
import { pool } from "./pool";
import { type Progress, silentProgress } from "./progress";
import { TABLES } from "./tables";

export interface VerifyResult {
  /** No mismatch. */
  ok: boolean;
  /** One line per difference (capped at MAX_MISMATCHES, then a line saying how many more). */
  mismatches: string[];
  /** Rows per table in the source, and `repos`, `records`, `blobs`, `blob bytes` checked. */
  counts: Record<string, number>;
  /** What was not checked and why (blobs whose bytes the source store does not have). */
  notes: string[];
}

export interface VerifyOptions {
  progress?: Progress;
  /** Blobs read and hashed at once. @default 4 */
  concurrency?: number;
}

const MAX_MISMATCHES = 1000;
const PAGE = 500;
/** sha2-256 in the multihash table: the hash of every blob CID a PDS stores. */
const SHA256 = 0x12;

/**
 * Compare a finished copy with its source: every table's row count; every
 * repository's root CID, rev and record count; every permanent blob's row
 * (size) and its bytes in the target store, hashed and checked against the
 * CID, taken-down ones included (they must be quarantined in the target and
 * are read there with `getQuarantined`). The source is read through
 * snapshots only.
 */
export async function verifyCopy(from: Endpoint, to: Endpoint, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const progress = opts.progress ?? silentProgress;
  const mismatches: string[] = [];
  let dropped = 0;
  const miss = (line: string) => (mismatches.length < MAX_MISMATCHES ? mismatches.push(line) : dropped++);
  const counts: Record<string, number> = {};
  const notes: string[] = [];

  const tables = progress.stage("verify tables", TABLES.length, "rows");
  for (const spec of TABLES) {
    const [source, target] = [await from.db.snapshot((tx) => countRows(tx, spec)), await countRows(to.db.db() as never, spec)];
    counts[spec.name] = source;
    if (source !== target) miss(`table ${spec.name}: ${source} rows in the source, ${target} in the target`);
    tables.advance(1);
  }
  tables.done();

  const repos = progress.stage("verify repos", counts.repo_root, "rows");
  counts.repos = 0;
  counts.records = 0;
  let after: string | null = null;
  for (let pages = 0; pages <= (counts.repo_root ?? 0) + 1; pages++) {
    const cursor: string | null = after;
    const page = await from.db.snapshot(async (tx) => {
      let q = tx.selectFrom("repo_root").select(["did", "cid", "rev"]).orderBy("did").limit(PAGE);
      if (cursor !== null) q = q.where("did", ">", cursor);
      const roots = await q.execute();
      return { roots, records: await recordCounts(tx, roots.map((r) => r.did)) };
    });
    if (page.roots.length === 0) break;
    const dids = page.roots.map((r) => r.did);
    const targetRoots = new Map((await inBatches(dids, (chunk) => to.db.db().selectFrom("repo_root").select(["did", "cid", "rev"]).where("did", "in", chunk).execute())).flat().map((r) => [r.did, r]));
    const targetRecords = await recordCounts(to.db.db(), dids);
    for (const root of page.roots) {
      const there = targetRoots.get(root.did);
      if (!there) miss(`repo ${root.did}: missing in the target`);
      else if (there.cid !== root.cid || there.rev !== root.rev) miss(`repo ${root.did}: root ${root.cid} rev ${root.rev} in the source, ${there.cid} rev ${there.rev} in the target`);
      const [n, m] = [page.records.get(root.did) ?? 0, targetRecords.get(root.did) ?? 0];
      if (n !== m) miss(`repo ${root.did}: ${n} records in the source, ${m} in the target`);
      counts.records += n;
    }
    counts.repos += page.roots.length;
    repos.advance(page.roots.length);
    after = dids[dids.length - 1]!;
    if (page.roots.length < PAGE) break;
  }
  repos.done();

  const blobs = progress.stage("verify blobs", counts.blob, "rows");
  let [blobCount, blobBytes] = [0, 0];
  const unreadable: string[] = [];
  let blobAfter: unknown[] | null = null;
  for (let pages = 0; pages <= (counts.blob ?? 0) + 1; pages++) {
    const cursor: unknown[] | null = blobAfter;
    const page: BlobRow[] = await from.db.snapshot((tx) => readBlobPage(tx, cursor, PAGE));
    if (page.length === 0) break;
    const rows = await targetBlobRows(to.db.db(), page);
    await pool(page, opts.concurrency ?? 4, async (row) => {
      const id = `${row.did} ${row.cid}`;
      const there = rows.get(id);
      if (there === undefined) return void miss(`blob ${id}: row missing in the target`);
      if (there !== row.size) miss(`blob ${id}: ${row.size} bytes in the source row, ${there} in the target's`);
      const checked = await checkBytes(from, to, row);
      if (checked === "unreadable") unreadable.push(id);
      else if (checked !== null) miss(`blob ${id}: ${checked}`);
      else blobBytes += row.size;
    });
    blobCount += page.length;
    blobs.advance(page.length);
    blobAfter = [page[page.length - 1]!.did, page[page.length - 1]!.cid];
    if (page.length < PAGE) break;
  }
  blobs.done();
  counts.blobs = blobCount;
  counts["blob bytes"] = blobBytes;
  if (unreadable.length > 0) {
    notes.push(`${unreadable.length} blob(s) not checked: the source store does not have their bytes (lost): ${unreadable.slice(0, 10).join(", ")}`);
  }
  if (dropped > 0) mismatches.push(`... and ${dropped} more mismatches`);
  return { ok: mismatches.length === 0, mismatches, counts, notes };
}

/**
 * The target's bytes of one blob against its CID and row size, and its
 * quarantine against the source's (a taken-down row, or bytes the source
 * store holds quarantined, must be quarantined in the target; served ones
 * must be served): null when all agree, "unreadable" when the source store
 * has no bytes for it either (nothing to compare with), else what is wrong.
 */
async function checkBytes(from: Endpoint, to: Endpoint, row: BlobRow): Promise<string | null> {
  const takenDown = row.takedown_ref !== null;
  const served = () => to.blobs.get(row.did, row.cid);
  const hidden = () => to.blobs.getQuarantined(row.did, row.cid);
  // Where the row says the bytes belong first: one read in the usual case.
  let read = await readOrNull(takenDown ? hidden : served);
  if (!read) {
    read = await readOrNull(takenDown ? served : hidden);
    if (read && takenDown) {
      await read.stream.cancel();
      return "taken down in the source but served by the target store";
    }
    // Quarantined in the target with no takedown in the row: right only when the source store holds it quarantined too.
    if (read && (await from.blobs.stat(row.did, row.cid))?.quarantined !== true) {
      await read.stream.cancel();
      return "quarantined in the target store but served by the source";
    }
  }
  if (!read) return (await from.blobs.stat(row.did, row.cid)) === null ? "unreadable" : "bytes missing in the target store";
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  for await (const chunk of read.stream) {
    hasher.update(chunk);
    size += chunk.byteLength;
  }
  if (size !== row.size) return `${size} bytes in the target store, ${row.size} in the row`;
  const { multihash } = CID.parse(row.cid);
  if (multihash.code !== SHA256) return `CID hash 0x${multihash.code.toString(16)} is not sha2-256`;
  return Buffer.compare(Buffer.from(hasher.digest()), Buffer.from(multihash.digest)) === 0 ? null : "bytes do not hash to the CID";
}

/** A blob read, or null when the store has no such copy. */
async function readOrNull(open: () => Promise<BlobRead>): Promise<BlobRead | null> {
  try {
    return await open();
  } catch (err) {
    if (err instanceof BlobNotFoundError) return null;
    throw err;
  }
}

async function recordCounts(db: Db | Kysely<any>, dids: string[]): Promise<Map<string, number>> {
  const rows = await inBatches(dids, (chunk) =>
    (db as Db).selectFrom("record").select((eb) => ["did", eb.fn.countAll().as("n")]).where("did", "in", chunk).groupBy("did").execute(),
  );
  return new Map(rows.flat().map((r) => [r.did, Number(r.n)]));
}

async function targetBlobRows(db: Db, page: { did: string; cid: string }[]): Promise<Map<string, number>> {
  const byDid = new Map<string, string[]>();
  for (const { did, cid } of page) byDid.set(did, [...(byDid.get(did) ?? []), cid]);
  const found = new Map<string, number>();
  for (const [did, cids] of byDid) {
    const rows = await inBatches(cids, (chunk) => db.selectFrom("blob").select(["cid", "size"]).where("did", "=", did).where("cid", "in", chunk).where("temp_key", "is", null).execute());
    for (const r of rows.flat()) found.set(`${did} ${r.cid}`, Number(r.size));
  }
  return found;
}
