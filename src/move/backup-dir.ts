import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { contentPath } from "./content-store";
import { MoveError } from "./errors";
import { exists, removeTree, syncPath } from "./durable-fs";
import { BLOB_LIST_FILE, type Manifest, MANIFEST_FILE, parseBlobList, readManifest } from "./manifest";

/**
 * The layout of a backup directory and what only one process at a time may
 * do to it (write a snapshot, apply retention):
 *
 *   <DIR>/blobs/<2 chars>/<cid>     content-addressed blobs, shared by every snapshot
 *   <DIR>/blobs/tmp/                blobs being written
 *   <DIR>/<snapshot>/               manifest.json, aurora.sqlite, blobs.txt
 *   <DIR>/.tmp-<snapshot>/          a snapshot being written (renamed into place when whole)
 *   <DIR>/.lock                     the pid of the process working on DIR
 *
 * Snapshots are named by their UTC start time, `2025-06-01T03-17-00Z`;
 * those a restore takes of its target first are `pre-restore-<time>`, and
 * retention never counts or deletes them.
 */
export const BLOBS_DIR = "blobs";
export const PRE_RESTORE_PREFIX = "pre-restore-";
const LOCK_FILE = ".lock";
const TMP_PREFIX = ".tmp-";
const DELETING_PREFIX = ".deleting-";

/** A snapshot found in a backup directory. */
export interface SnapshotEntry {
  name: string;
  dir: string;
  manifest: Manifest;
}

/** The blob store root of backup directory `dir`. */
export function blobRoot(dir: string): string {
  return join(dir, BLOBS_DIR);
}

/** A snapshot name for `at` (UTC, second precision, sortable), with `prefix`. */
export function snapshotName(at: Date, prefix = ""): string {
  return prefix + at.toISOString().replace(/\.\d{3}Z$/, "Z").replaceAll(":", "-");
}

/** The directory a snapshot is written into before it is renamed to `name`. */
export function stagingDir(dir: string, name: string): string {
  return join(dir, TMP_PREFIX + name);
}

/**
 * Hold `dir`'s lock while `fn` runs: a second backup (a cron job overlapping
 * a slow one) or a retention pass stops with a clear error instead of
 * interleaving. A lock left by a process that no longer runs is taken over,
 * and whatever it left half-written (staging directories, temp blobs) removed.
 */
export async function withBackupLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(join(dir, BLOBS_DIR), { recursive: true });
  const lock = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) {
        throw new MoveError(`${dir} is in use by process ${holder} (another backup or restore); remove ${lock} if that is wrong`);
      }
      await unlink(lock).catch(() => {});
    }
  }
  try {
    await removeLeftovers(dir);
    return await fn();
  } finally {
    await unlink(lock).catch(() => {});
  }
}

/**
 * Every snapshot of `dir` whose manifest reads and checks out, oldest first;
 * `broken` lists directories that look like snapshots but do not.
 */
export async function listSnapshots(dir: string): Promise<{ snapshots: SnapshotEntry[]; broken: string[] }> {
  const snapshots: SnapshotEntry[] = [];
  const broken: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  });
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith(".") || entry.name === BLOBS_DIR) continue;
    const path = join(dir, entry.name);
    if (!(await exists(join(path, MANIFEST_FILE)))) continue;
    try {
      snapshots.push({ name: entry.name, dir: path, manifest: await readManifest(path) });
    } catch {
      broken.push(entry.name);
    }
  }
  snapshots.sort((a, b) => a.manifest.createdAt.localeCompare(b.manifest.createdAt) || a.name.localeCompare(b.name));
  return { snapshots, broken };
}

/** What a retention pass removed. */
export interface RetentionReport {
  deletedSnapshots: string[];
  deletedBlobs: number;
  /** Set when blobs were left alone because a snapshot's blob list could not be read. */
  skippedBlobSweep?: string;
}

/**
 * Keep the newest `keep` backups of `dir` (pre-restore snapshots are kept
 * and not counted), delete older ones, then delete every stored blob that no
 * remaining snapshot lists. A snapshot directory is renamed away before it
 * is removed, so a crash never leaves a half-deleted snapshot that looks
 * whole. Call inside withBackupLock.
 */
export async function applyRetention(dir: string, keep: number): Promise<RetentionReport> {
  const { snapshots, broken } = await listSnapshots(dir);
  const regular = snapshots.filter((s) => !s.name.startsWith(PRE_RESTORE_PREFIX));
  const doomed = regular.slice(0, Math.max(0, regular.length - keep));
  for (const snapshot of doomed) {
    const away = join(dir, DELETING_PREFIX + snapshot.name);
    await rename(snapshot.dir, away);
    await syncPath(dir);
    await removeTree(away);
  }
  const report: RetentionReport = { deletedSnapshots: doomed.map((s) => s.name), deletedBlobs: 0 };
  if (broken.length > 0) {
    report.skippedBlobSweep = `unreadable snapshot(s) ${broken.join(", ")} may still need their blobs`;
    return report;
  }
  const referenced = new Set<string>();
  for (const snapshot of snapshots.filter((s) => !doomed.includes(s))) {
    const text = await readFile(join(snapshot.dir, BLOB_LIST_FILE), "utf8");
    for (const blob of parseBlobList(snapshot.name, text)) referenced.add(contentPath(blobRoot(dir), blob.cid));
  }
  const root = blobRoot(dir);
  for (const shard of await readdir(root, { withFileTypes: true })) {
    if (!shard.isDirectory() || shard.name === "tmp") continue;
    for (const file of await readdir(join(root, shard.name))) {
      const path = join(root, shard.name, file);
      if (referenced.has(path)) continue;
      await unlink(path);
      report.deletedBlobs++;
    }
  }
  return report;
}

/** Staging directories, half-deleted snapshots and temp blobs of a process that died mid-way. */
async function removeLeftovers(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(TMP_PREFIX) || entry.startsWith(DELETING_PREFIX)) await removeTree(join(dir, entry));
  }
  await removeTree(join(blobRoot(dir), "tmp"));
  await mkdir(join(blobRoot(dir), "tmp"), { recursive: true });
}

/** Whether process `pid` is alive on this machine (a lock left by a dead one may be taken over). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
