import { mkdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Db } from "@/plugin-kit";
import { applyRetention, blobRoot, listSnapshots, type RetentionReport, stagingDir, withBackupLock } from "./backup-dir";
import { type ContentStore, contentPath, contentStore } from "./content-store";
import { durableRename, exists, removeTree, syncTree } from "./durable-fs";
import { MoveError } from "./errors";
import { MANIFEST_FILE } from "./manifest";
import { isS3Url, parseS3Url } from "./s3-settings";
import { s3Location } from "./s3-location";

/**
 * Where backups live: a directory (backup-dir.ts) or an S3 bucket and prefix
 * (s3-location.ts). Backup and restore go through this interface only; a
 * snapshot is always built and read as local files (the SQLite database must
 * be), and the location says where the shared blobs are and how a finished
 * snapshot is published, listed, fetched and retired.
 */
export interface BackupLocation {
  /** The directory's path or `s3://bucket/prefix`, for messages. */
  readonly url: string;
  /** Run `fn` as the location's only writer; what a dead writer left half-done is removed first. */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Whether anything of a snapshot named `name` is there (whole or not). */
  hasSnapshot(name: string): Promise<boolean>;
  /** A new, empty local directory to write snapshot `name` into before `publish`. */
  staging(name: string): Promise<string>;
  /** A new, empty local directory for a restore's working files. */
  scratch(tag: string): Promise<string>;
  /** The shared blob store seen through a snapshot's database; `localDir` may hold its spooled uploads. */
  blobStore(refs: () => Db, localDir: string): ContentStore;
  /** The size of stored blob `cid`, or null when the location does not have it. */
  blobSize(cid: string): Promise<number | null>;
  /** Make finished staging directory `staging` snapshot `name` (its manifest last) and drop the staging copy; returns its address. */
  publish(staging: string, name: string): Promise<string>;
  /** Every published snapshot (manifest readable) oldest first; `broken`: names whose manifest does not check out. */
  listSnapshots(): Promise<{ snapshots: { name: string; createdAt: string }[]; broken: string[] }>;
  /** Keep the newest `keep` backups (pre-restore ones aside), delete the rest and the blobs no remaining snapshot lists. */
  applyRetention(keep: number): Promise<RetentionReport>;
  /** A local directory holding snapshot `name`'s files: the snapshot itself, or a download under `workDir`. */
  fetchSnapshot(name: string, workDir: string): Promise<string>;
  /** The address of snapshot `name`. */
  snapshotUrl(name: string): string;
  close(): void;
}

/** How to reach an s3:// location (see s3-settings.ts for the environment). */
export interface LocationOptions {
  env?: Record<string, string | undefined>;
  /** `--s3-endpoint`: beats AURORA_BACKUP_S3_ENDPOINT and PDS_BLOBSTORE_S3_ENDPOINT. */
  s3Endpoint?: string;
}

/** The location `aurora backup --out` names: `s3://bucket/prefix` or a directory (created when missing). */
export function openBackupLocation(spec: string, opts: LocationOptions = {}): BackupLocation {
  if (!isS3Url(spec)) return directoryLocation(resolve(spec));
  const address = parseS3Url(spec);
  if (address.snapshot !== undefined) throw new MoveError(`${spec} names a snapshot: give the backup location, s3://bucket/prefix`);
  return s3Location(address, opts.env ?? process.env, opts.s3Endpoint);
}

/**
 * The location and snapshot `aurora restore --from` names: `s3://bucket/prefix`
 * or a backup directory (its newest backup), `s3://bucket/prefix/snapshots/NAME`
 * or a snapshot directory (that one).
 */
export async function openRestoreSource(spec: string, opts: LocationOptions = {}): Promise<{ location: BackupLocation; snapshot?: string }> {
  if (isS3Url(spec)) {
    const address = parseS3Url(spec);
    return { location: s3Location(address, opts.env ?? process.env, opts.s3Endpoint), snapshot: address.snapshot };
  }
  const path = resolve(spec);
  if (await exists(join(path, MANIFEST_FILE))) return { location: directoryLocation(dirname(path)), snapshot: basename(path) };
  if (!(await exists(path))) throw new MoveError(`no backup at ${path}`);
  return { location: directoryLocation(path) };
}

/** A backup directory (layout and lock in backup-dir.ts) as a location. */
export function directoryLocation(dir: string): BackupLocation {
  return {
    url: dir,
    withLock: (fn) => withBackupLock(dir, fn),
    hasSnapshot: (name) => exists(join(dir, name)),
    async staging(name) {
      const path = stagingDir(dir, name);
      await removeTree(path);
      await mkdir(path, { recursive: true });
      return path;
    },
    async scratch(tag) {
      const path = join(dir, `.tmp-${tag}-${process.pid}`);
      await removeTree(path);
      await mkdir(path, { recursive: true });
      return path;
    },
    blobStore: (refs) => contentStore({ root: blobRoot(dir), refs }),
    blobSize: (cid) => stat(contentPath(blobRoot(dir), cid)).then((s) => s.size, () => null),
    async publish(staging, name) {
      await syncTree(staging);
      const to = join(dir, name);
      await durableRename(staging, to);
      return to;
    },
    async listSnapshots() {
      const { snapshots, broken } = await listSnapshots(dir);
      return { snapshots: snapshots.map((s) => ({ name: s.name, createdAt: s.manifest.createdAt })), broken };
    },
    applyRetention: (keep) => applyRetention(dir, keep),
    fetchSnapshot: async (name) => join(dir, name),
    snapshotUrl: (name) => join(dir, name),
    close() {},
  };
}
