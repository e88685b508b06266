import { mkdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { applyRetention, blobRoot, listSnapshots, stagingDir, withBackupLock } from "./backup-dir";
import { contentPath, contentStore } from "./content-store";
import { durableRename, exists, removeTree, syncTree } from "./durable-fs";
import { MoveError } from "./errors";
import { MANIFEST_FILE } from "./manifest";
import { isS3Url, parseS3Url } from "./s3-settings";
import type { BackupLocation } from "./location";
import { s3Location } from "./s3-location";

export type { BackupLocation } from "./location";

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
