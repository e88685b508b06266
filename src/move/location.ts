import type { Db } from "@/plugin-kit";
import type { RetentionReport } from "./backup-dir";
import type { ContentStore } from "./content-store";

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
