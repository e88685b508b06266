import { join } from "node:path";
import { migrateToLatest } from "@/db/migrator";
import type { TableName } from "@/db/schema";
import { PRE_RESTORE_PREFIX } from "./backup-dir";
import type { BackupLocation } from "./backup-location";
import { type BackupResult, writeSnapshot } from "./backup";
import { copyAll } from "./copy";
import { removeTree } from "./durable-fs";
import type { Endpoint } from "./endpoint";
import { MoveError } from "./errors";
import { compareSummaries, type Manifest, rotationKeyFingerprint, summarise } from "./manifest";
import type { Progress } from "./progress";
import { checkSnapshotDatabase, checkSnapshotFiles, tooMany } from "./snapshot-check";
import { openSnapshot } from "./snapshot-endpoint";
import { TABLES } from "./tables";
import { verifyCopy } from "./verify";
import { wipeTarget } from "./wipe";

export interface RestoreOptions {
  /** Where the backup is: a directory or s3://bucket/prefix (backup-location.ts openRestoreSource). */
  location: BackupLocation;
  /** The snapshot to restore; the location's newest backup when unset. */
  snapshot?: string;
  /** Replace a target that holds data, after backing it up into the same location as `pre-restore-<time>`. */
  force: boolean;
  progress: Progress;
  /** Blobs streamed at once. @default 4 */
  blobConcurrency?: number;
  now?: () => Date;
}

/** What a restore did and found. */
export interface RestoreResult {
  /** The restored snapshot's directory or s3:// address. */
  snapshot: string;
  manifest: Manifest;
  /** The backup of the target taken before it was replaced (--force on a non-empty target). */
  preRestore?: BackupResult;
  /** Every difference found after the copy, between snapshot and target or against the manifest; empty when it matches. */
  mismatches: string[];
}

/**
 * `aurora restore`: bring a backup snapshot into `target`. First, before
 * anything is written anywhere, the snapshot is checked (manifest checksum,
 * database file hash, blob list and every blob file, the database's contents
 * against the manifest, the target's rotation key): a damaged backup is
 * refused with what is wrong. A target that holds data is refused unless
 * `force`, which first backs it up into the same location. Then
 * copyAll from the snapshot into the target, and the checks `move --verify`
 * makes plus the manifest's repositories and blobs on the target. A
 * snapshot in S3 is downloaded (streamed) into a local work directory first
 * and its blobs read from the bucket as they are copied.
 */
export async function restore(target: Endpoint, opts: RestoreOptions): Promise<RestoreResult> {
  const { location } = opts;
  return location.withLock(async () => {
    const name = opts.snapshot ?? (await newestSnapshot(location));
    const dir = location.snapshotUrl(name);
    if (!(await location.hasSnapshot(name))) throw new MoveError(`no backup at ${dir}`);
    const work = await location.scratch("restore");
    try {
      return await restoreFrom(target, opts, dir, await location.fetchSnapshot(name, work), work);
    } finally {
      await removeTree(work);
    }
  });
}

/** The restore itself, from snapshot `dir` whose files are in local directory `files`; the caller holds the lock. */
async function restoreFrom(target: Endpoint, opts: RestoreOptions, dir: string, files: string, work: string): Promise<RestoreResult> {
  const { location } = opts;
  const { manifest, blobs } = await checkSnapshotFiles(files, location, dir);
  const key = rotationKeyFingerprint(target.config.secrets.plcRotationKeyHex);
  if (key !== manifest.rotationKey) {
    throw new MoveError(
      `the target config's PLC rotation key (PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX) is not the one backup ${dir} was made with ` +
        "(the accounts' signing keys are sealed under it): give the target that key",
    );
  }
  const snapshot = await openSnapshot(files, location, join(work, "db"), target.config, dir);
  try {
    await checkSnapshotDatabase(snapshot, manifest, blobs);
    await migrateToLatest(snapshot.db);
    await migrateToLatest(target.db);
    let preRestore: BackupResult | undefined;
    const held = await rowsHeld(target);
    if (held.length > 0) {
      if (!opts.force) {
        throw new MoveError(
          `the target ${target.source} is not empty (${held.join(", ")}): restore only fills an empty server; ` +
            "--force backs the target up into the backup location first and then replaces it",
        );
      }
      preRestore = await writeSnapshot(target, {
        location,
        progress: opts.progress,
        prefix: PRE_RESTORE_PREFIX,
        now: opts.now,
        blobConcurrency: opts.blobConcurrency,
      });
      await wipeTarget(target, opts.progress);
    }
    await copyAll(snapshot, target, { resume: false, progress: opts.progress, blobConcurrency: opts.blobConcurrency });
    const verified = await verifyCopy(snapshot, target);
    const mismatches = [...verified.mismatches, ...(await againstManifest(target, manifest, blobs.map((b) => b.cid)))];
    return { snapshot: dir, manifest, preRestore, mismatches };
  } finally {
    await snapshot.close();
  }
}

/**
 * The newest backup of `location` (not a pre-restore copy): by name, which
 * is its time, so a newest snapshot whose manifest is damaged is chosen and
 * refused for what is wrong with it rather than an older one restored in
 * its place. An unfinished snapshot (no manifest) is not a backup.
 */
export async function newestSnapshot(location: BackupLocation): Promise<string> {
  const { snapshots, broken } = await location.listSnapshots();
  const newestGood = snapshots.filter((s) => !s.name.startsWith(PRE_RESTORE_PREFIX)).at(-1);
  const newestBroken = broken.filter((name) => !name.startsWith(PRE_RESTORE_PREFIX)).sort().at(-1);
  if (newestBroken !== undefined && (newestGood === undefined || newestBroken > newestGood.name)) return newestBroken;
  if (!newestGood) throw new MoveError(`${location.url} holds no backup`);
  return newestGood.name;
}

/** The tables of `target` that hold rows, as `table (n rows)`. */
async function rowsHeld(target: Endpoint): Promise<string[]> {
  const { tables } = await summarise(target.db, TABLES.map((t) => t.name));
  return Object.entries(tables)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${table}: ${n} rows`);
}

/** The manifest's repositories and blobs against what the target now holds. */
async function againstManifest(target: Endpoint, manifest: Manifest, cids: readonly string[]): Promise<string[]> {
  const summary = await summarise(target.db, Object.keys(manifest.tables) as TableName[]);
  // Row counts were compared snapshot to target by verifyCopy (after migration a count may legitimately move).
  const problems = compareSummaries({ ...manifest, tables: {}, migration: summary.migration }, summary);
  const held = new Set(summary.blobs.map((b) => b.cid));
  const missing = cids.filter((cid) => !held.has(cid));
  if (missing.length > 0) problems.push(`blobs of the manifest missing on the target: ${tooMany(missing)}`);
  return problems;
}
