import { Database } from "bun:sqlite";
import { join } from "node:path";
import { VERSION } from "@/version";
import { type RetentionReport, snapshotName } from "./backup-dir";
import type { BackupLocation } from "./backup-location";
import { copyAll } from "./copy";
import { hashFile, removeTree, writeSynced } from "./durable-fs";
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
  /** Where backups go (a directory or s3://bucket/prefix); its blob store is shared by all its snapshots. */
  location: BackupLocation;
  /** Keep this many backups (pre-restore snapshots aside) and delete older ones and their unreferenced blobs. */
  keep?: number;
  progress: Progress;
  /** Blobs streamed at once. @default 4 */
  blobConcurrency?: number;
  /** Name prefix: "" for a backup, `pre-restore-` for the copy restore takes of its target. @default "" */
  prefix?: string;
  /** The clock, for tests. */
  now?: () => Date;
}

/** What one backup wrote. */
export interface BackupResult {
  name: string;
  /** The snapshot's directory or s3:// address. */
  dir: string;
  manifest: Manifest;
  /** Blobs this backup had to store (the rest were already in the location). */
  newBlobs: number;
  retention?: RetentionReport;
}

/**
 * `aurora backup`: a consistent snapshot of `source` into `opts.location`,
 * then retention. Holds the location's lock throughout.
 */
export function backup(source: Endpoint, opts: BackupOptions): Promise<BackupResult> {
  return opts.location.withLock(async () => {
    const result = await writeSnapshot(source, opts);
    if (opts.keep !== undefined) return { ...result, retention: await opts.location.applyRetention(opts.keep) };
    return result;
  });
}

/**
 * Write one snapshot of `source` into `opts.location`; the caller holds the lock.
 *
 * copyAll reads the whole source inside one `db.snapshot()` (`readSnapshot`:
 * REPEATABLE READ on PostgreSQL, one read transaction on SQLite) and writes
 * it into a fresh SQLite file through the same contract as `aurora move`,
 * whatever the source backend; the blob rows of that same snapshot say which
 * bytes go into the location's content-addressed store (only those not
 * there yet, each checked against its CID). Taken-down blobs' bytes are
 * read from the source's quarantine and stored like the rest: the snapshot's
 * takedown_ref keeps them quarantined, and a restore quarantines them in its
 * target. A blob whose bytes the source store no longer has (deleted while
 * the backup ran, or lost) is listed in the manifest as missing rather than
 * failing the backup. Everything is written into a local staging directory
 * and published whole, the manifest last (renamed into place in a
 * directory; uploaded after the database and blob list to S3): a crash
 * leaves no snapshot, never one that looks whole.
 */
export async function writeSnapshot(source: Endpoint, opts: BackupOptions): Promise<BackupResult> {
  await assertLatestSchema(source, "source");
  const createdAt = (opts.now ?? (() => new Date()))();
  const { location } = opts;
  const name = await freeName(location, snapshotName(createdAt, opts.prefix ?? ""));
  const staging = await location.staging(name);
  const dbFile = join(staging, DATABASE_FILE);
  try {
    const target = await createSnapshotTarget(staging, location, source.config);
    let summary: Awaited<ReturnType<typeof summarise>>;
    let newBlobs: number;
    try {
      // `resume` on this fresh target makes the blob stage ask the store first: the
      // location's blobs from earlier snapshots are not sent again.
      await copyAll(source, target, { resume: true, progress: opts.progress, readSnapshot: true, blobConcurrency: opts.blobConcurrency });
      summary = await summarise(target.db, TABLES.map((t) => t.name));
      newBlobs = target.blobs.written();
    } finally {
      await target.close();
    }
    const stored: BlobEntry[] = [];
    const missing: string[] = [];
    for (const blob of summary.blobs) {
      if ((await location.blobSize(blob.cid)) !== null) stored.push(blob);
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
    const dir = await location.publish(staging, name);
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
async function freeName(location: BackupLocation, name: string): Promise<string> {
  for (let n = 1; n < 1000; n++) {
    const candidate = n === 1 ? name : `${name}-${n}`;
    if (!(await location.hasSnapshot(candidate))) return candidate;
  }
  throw new MoveError(`${location.url} already holds 999 snapshots named ${name}`);
}
