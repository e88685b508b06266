import { Database } from "bun:sqlite";
import { join } from "node:path";
import { VERSION } from "@/version";
import { applyRetention, blobRoot, type RetentionReport, snapshotName, stagingDir, withBackupLock } from "./backup-dir";
import { contentPath } from "./content-store";
import { copyAll } from "./copy";
import { durableRename, exists, hashFile, removeTree, syncTree, writeSynced } from "./durable-fs";
import { assertLatestSchema, type Endpoint } from "./endpoint";
import { MoveError } from "./errors";
import {
  BLOB_LIST_FILE,
  type BlobEntry,
  blobListText,
  DATABASE_FILE,
  type Manifest,
  MANIFEST_FORMAT,
  rotationKeyFingerprint,
  sha256Hex,
  summarise,
  writeManifest,
} from "./manifest";
import type { Progress } from "./progress";
import { createSnapshotTarget } from "./snapshot-endpoint";
import { TABLES } from "./tables";

export interface BackupOptions {
  /** The backup directory (created when missing); its blob store is shared by all its snapshots. */
  out: string;
  /** Keep this many backups (pre-restore snapshots aside) and delete older ones and their unreferenced blobs. */
  keep?: number;
  progress: Progress;
  /** Name prefix: "" for a backup, `pre-restore-` for the copy restore takes of its target. @default "" */
  prefix?: string;
  /** The clock, for tests. */
  now?: () => Date;
}

/** What one backup wrote. */
export interface BackupResult {
  name: string;
  dir: string;
  manifest: Manifest;
  /** Blobs this backup had to store (the rest were already in the directory). */
  newBlobs: number;
  retention?: RetentionReport;
}

/**
 * `aurora backup`: a consistent snapshot of `source` into backup directory
 * `opts.out`, then retention. Holds the directory's lock throughout.
 */
export function backup(source: Endpoint, opts: BackupOptions): Promise<BackupResult> {
  return withBackupLock(opts.out, async () => {
    const result = await writeSnapshot(source, opts);
    if (opts.keep !== undefined) return { ...result, retention: await applyRetention(opts.out, opts.keep) };
    return result;
  });
}

/**
 * Write one snapshot of `source` into `opts.out`; the caller holds the lock.
 *
 * copyAll reads the whole source inside one `db.snapshot()` (`readSnapshot`:
 * REPEATABLE READ on PostgreSQL, one read transaction on SQLite) and writes
 * it into a fresh SQLite file through the same contract as `aurora move`,
 * whatever the source backend; the blob rows of that same snapshot say which
 * bytes go into the directory's content-addressed store (only those not
 * there yet, each checked against its CID). Taken-down blobs' bytes are
 * read from the source's quarantine and stored like the rest: the snapshot's
 * takedown_ref keeps them quarantined, and a restore quarantines them in its
 * target. A blob whose bytes the source store no longer has (deleted while
 * the backup ran, or lost) is listed in the manifest as missing rather than
 * failing the backup. Everything is written
 * into a staging directory, synced, and renamed into place: a crash leaves
 * no snapshot, never a partial one.
 */
export async function writeSnapshot(source: Endpoint, opts: BackupOptions): Promise<BackupResult> {
  await assertLatestSchema(source, "source");
  const createdAt = (opts.now ?? (() => new Date()))();
  const name = await freeName(opts.out, snapshotName(createdAt, opts.prefix ?? ""));
  const staging = stagingDir(opts.out, name);
  const dbFile = join(staging, DATABASE_FILE);
  await removeTree(staging);
  try {
    const target = await createSnapshotTarget(staging, opts.out, source.config);
    let summary: Awaited<ReturnType<typeof summarise>>;
    let newBlobs: number;
    try {
      // `resume` on this fresh target makes the blob stage ask the store first: the
      // directory's blobs from earlier snapshots are not sent again.
      await copyAll(source, target, { resume: true, progress: opts.progress, readSnapshot: true });
      summary = await summarise(target.db, TABLES.map((t) => t.name));
      newBlobs = target.blobs.written();
    } finally {
      await target.close();
    }
    const stored: BlobEntry[] = [];
    const missing: string[] = [];
    for (const blob of summary.blobs) {
      if (await exists(contentPath(blobRoot(opts.out), blob.cid))) stored.push(blob);
      else missing.push(blob.cid);
    }
    singleFile(dbFile);
    const database = await hashFile(dbFile);
    const blobList = blobListText(stored);
    await writeSynced(join(staging, BLOB_LIST_FILE), blobList);
    const manifest = await writeManifest(staging, {
      format: MANIFEST_FORMAT,
      name,
      createdAt: createdAt.toISOString(),
      auroraVersion: VERSION,
      source: { db: source.db.name, blobs: source.blobs.name },
      rotationKey: rotationKeyFingerprint(source.config.secrets.plcRotationKeyHex),
      migration: summary.migration,
      database: { file: DATABASE_FILE, ...database },
      tables: summary.tables,
      repos: summary.repos,
      blobs: {
        file: BLOB_LIST_FILE,
        sha256: sha256Hex(blobList),
        count: stored.length,
        bytes: stored.reduce((sum, b) => sum + b.size, 0),
        missing,
      },
    });
    await syncTree(staging);
    const dir = join(opts.out, name);
    await durableRename(staging, dir);
    return { name, dir, manifest, newBlobs };
  } catch (err) {
    await removeTree(staging);
    throw err;
  }
}

/**
 * Make the closed snapshot database one self-contained file: fold the WAL
 * back in and switch to a rollback journal, so the file alone is the
 * snapshot and its hash covers everything.
 */
function singleFile(path: string): void {
  const db = new Database(path);
  try {
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.run("PRAGMA journal_mode = DELETE");
  } finally {
    db.close();
  }
}

/** `name`, or `name-2`, `name-3`... when a snapshot of that second already exists. */
async function freeName(dir: string, name: string): Promise<string> {
  for (let n = 1; n < 1000; n++) {
    const candidate = n === 1 ? name : `${name}-${n}`;
    if (!(await exists(join(dir, candidate)))) return candidate;
  }
  throw new MoveError(`${dir} already holds 999 snapshots named ${name}`);
}
