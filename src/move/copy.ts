import { type Checkpoint, clearCheckpoints, readCheckpoints, saveCheckpoint } from "./checkpoint";
import { BLOB_STAGE, copyBlobBytes } from "./copy-blobs";
import { copyTable, type StageReport } from "./copy-table";
import { type Endpoint, sameBackends } from "./endpoint";
import { MoveError } from "./errors";
import type { Progress } from "./progress";
import { type Reader, withReader } from "./reader";
import { TABLES } from "./tables";

export type { StageReport } from "./copy-table";

export interface CopyOptions {
  /** Continue an interrupted copy into this target (its checkpoints), instead of refusing a target that holds data. */
  resume: boolean;
  progress: Progress;
  /** Rows per page of a table copy. @default 500 */
  batchRows?: number;
  /** Read the whole source in one `db.snapshot()`: one consistent state, as a backup of a running server needs. @default false */
  readSnapshot?: boolean;
  /** Blobs streamed at once. @default 4 */
  blobConcurrency?: number;
  /** Stop between two pages (throws MoveInterrupted); what was copied stays and a resume continues from it. */
  signal?: AbortSignal;
}

/** The stage name under which the source's identity is kept, so a resume cannot mix two sources. */
const SOURCE_STAGE = "source";

/**
 * Copy every table of the schema from `from` to `to` (tables.ts order), then
 * move the target's event counter past the source's. Refuses a target that
 * holds data unless `resume`. The target must already be migrated. Its
 * checkpoints are dropped once every table is copied.
 */
export async function copyDatabase(from: Endpoint, to: Endpoint, opts: CopyOptions): Promise<StageReport[]> {
  const at = await prepareTarget(from, to, opts.resume);
  const reports = await withReader(from.db, opts.readSnapshot ?? false, (read) => copyTables(read, from, to, at, opts));
  await clearCheckpoints(to.db.db(), [SOURCE_STAGE, ...TABLES.map((t) => t.name)]);
  return reports;
}

/**
 * Copy the blob bytes of every permanent blob row of the source (the rows
 * themselves are copyDatabase's); with `resume`, blobs the target store has
 * are not sent again. Its checkpoint is dropped at the end.
 */
export async function copyBlobs(from: Endpoint, to: Endpoint, opts: CopyOptions): Promise<StageReport> {
  const same = sameBackends(from, to);
  const at = same.db ? new Map<string, Checkpoint>() : await readCheckpoints(to.db.db());
  const report = await withReader(from.db, opts.readSnapshot ?? false, (read) => copyBytes(read, from, to, at, !same.db, opts));
  if (!same.db) await clearCheckpoints(to.db.db(), [BLOB_STAGE]);
  return report;
}

/**
 * The whole move: the database, then the blob bytes, then the checkpoints are
 * dropped. A backend both configs share is left as it is (a move of one kind
 * only); two identical configs are refused.
 */
export async function copyAll(from: Endpoint, to: Endpoint, opts: CopyOptions): Promise<StageReport[]> {
  const same = sameBackends(from, to);
  if (same.db && same.blobs) throw new MoveError("the source and the target use the same database and blob store: nothing to move");
  const at = same.db ? new Map<string, Checkpoint>() : await prepareTarget(from, to, opts.resume);
  const reports = await withReader(from.db, opts.readSnapshot ?? false, async (read) => {
    const tables = same.db ? [] : await copyTables(read, from, to, at, opts);
    const blobs = same.blobs ? [] : [await copyBytes(read, from, to, at, !same.db, opts)];
    return [...tables, ...blobs];
  });
  if (!same.db) await clearCheckpoints(to.db.db());
  return reports;
}

/**
 * Refuse a target that already holds data (an account, an event or the
 * checkpoints of another move) unless resuming, and a resume from another
 * source than the one the checkpoints came from. Resolves to the checkpoints.
 */
export async function prepareTarget(from: Endpoint, to: Endpoint, resume: boolean): Promise<Map<string, Checkpoint>> {
  const at = await readCheckpoints(to.db.db());
  const fingerprint = sourceFingerprint(from);
  const recorded = at.get(SOURCE_STAGE)?.after?.[0];
  if (!resume) {
    if (at.size > 0) throw new MoveError(`the target ${to.source} holds an unfinished move: pass --resume to continue it`);
    const held = await targetHolds(to);
    if (held) throw new MoveError(`the target ${to.source} is not empty (${held}): move into an empty database, or pass --resume to continue a move into it`);
  } else if (recorded !== undefined && recorded !== fingerprint) {
    throw new MoveError(`the unfinished move in the target ${to.source} came from another source (${recorded}), not ${fingerprint}`);
  }
  if (recorded === undefined) {
    await to.db.transaction((tx) => saveCheckpoint(tx, SOURCE_STAGE, { after: [fingerprint], rows: 0, bytes: 0, done: false }));
  }
  at.delete(SOURCE_STAGE);
  return at;
}

async function copyTables(read: Reader, from: Endpoint, to: Endpoint, at: Map<string, Checkpoint>, opts: CopyOptions): Promise<StageReport[]> {
  const reports: StageReport[] = [];
  for (const spec of TABLES) {
    reports.push(await copyTable(read, to, spec, from, at.get(spec.name), { progress: opts.progress, batchRows: opts.batchRows ?? 500, signal: opts.signal }));
  }
  return reports;
}

function copyBytes(read: Reader, from: Endpoint, to: Endpoint, at: Map<string, Checkpoint>, checkpoints: boolean, opts: CopyOptions): Promise<StageReport> {
  return copyBlobBytes(read, from, to, at.get(BLOB_STAGE), {
    progress: opts.progress,
    concurrency: opts.blobConcurrency,
    checkpoints,
    checkPresent: opts.resume || !checkpoints,
    signal: opts.signal,
  });
}

/** What the target holds that makes it not empty, or null. */
async function targetHolds(to: Endpoint): Promise<string | null> {
  const db = to.db.db();
  const count = async (table: "account" | "repo_seq") =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as("n")).executeTakeFirst())?.n ?? 0);
  const [accounts, events] = [await count("account"), await count("repo_seq")];
  if (accounts === 0 && events === 0) return null;
  return `${accounts} account(s), ${events} event(s)`;
}

/** Names the source well enough to tell two apart (settings are already redacted by describe()). */
function sourceFingerprint(from: Endpoint): string {
  return JSON.stringify([from.db.name, from.db.describe(), from.blobs.name, from.blobs.describe(), from.db.shared && from.blobs.shared ? "" : from.config.dataDir]);
}
