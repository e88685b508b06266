import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { isRunning, PRE_RESTORE_PREFIX, type RetentionReport } from "./backup-dir";
import type { BackupLocation } from "./location";
import { removeTree } from "./durable-fs";
import { MoveError } from "./errors";
import { BLOB_LIST_FILE, DATABASE_FILE, MANIFEST_FILE, parseBlobList, readManifest } from "./manifest";
import { s3BlobKey, s3ContentStore } from "./s3-content-store";
import { backupObjects } from "./s3-objects";
import { type S3Address, s3BackupClient, s3Settings } from "./s3-settings";

/**
 * A backup location in an S3 bucket under a prefix:
 *
 *   <prefix>/blobs/<cid>                       content-addressed blobs, shared by every snapshot
 *   <prefix>/snapshots/<name>/aurora.sqlite    the snapshot's database (uploaded first)
 *   <prefix>/snapshots/<name>/blobs.txt
 *   <prefix>/snapshots/<name>/manifest.json    written last: a snapshot without it is unfinished
 *   <prefix>/lock                              who is writing (host, pid, since)
 *
 * One writer at a time: the lock object is created with If-None-Match (so
 * two writers cannot both take it on AWS S3, MinIO and other servers that
 * honour it), read back, and removed at the end. A lock left by a dead
 * process on this host is taken over; one from another host stays until
 * the operator deletes it. Under the lock, snapshots without a manifest
 * (a backup that died) are deleted. Blobs a dead backup uploaded stay until
 * a `--keep` pass finds no manifest naming them.
 */
export function s3Location(address: S3Address, env: Record<string, string | undefined>, endpointFlag?: string): BackupLocation {
  const settings = s3Settings(address, env, endpointFlag);
  const client = s3BackupClient(settings);
  const objects = backupObjects(client, settings.bucket, settings.prefix);
  /** CIDs this process has seen in the bucket (HEAD or upload): each is asked about once. */
  const known = new Set<string>();
  const snapshotKey = (name: string, file = "") => `snapshots/${name}/${file}`;

  /** The names under snapshots/ and which of them have a manifest. */
  const snapshotObjects = async () => {
    const byName = new Map<string, string[]>();
    for await (const { key } of objects.list("snapshots/")) {
      const [, name, ...rest] = key.split("/");
      if (!name || rest.length === 0) continue;
      byName.set(name, [...(byName.get(name) ?? []), key]);
    }
    return byName;
  };
  const deleteAll = async (keys: string[]) => {
    // One at a time: s3rver (the test server) crashes when requests race a delete.
    for (const key of keys) await objects.delete(key);
  };
  const deleteSnapshot = async (name: string, keys: string[]) => {
    // Unpublish first: from then on it is an unfinished snapshot, cleaned by the next writer if this stops.
    await objects.delete(snapshotKey(name, MANIFEST_FILE));
    await deleteAll(keys.filter((k) => k !== snapshotKey(name, MANIFEST_FILE)));
  };
  const localDir = (tag: string) => mkdtemp(join(tmpdir(), `aurora-${tag}-`));

  const location: BackupLocation = {
    url: objects.url(),

    async withLock(fn) {
      const lock = "lock";
      const mine = JSON.stringify({ host: hostname(), pid: process.pid, since: new Date().toISOString(), token: randomBytes(8).toString("hex") });
      const held = await objects.getText(lock);
      if (held !== null) {
        const holder = parseLock(held);
        if (!(holder && holder.host === hostname() && !isRunning(holder.pid))) {
          const who = holder ? `process ${holder.pid} on ${holder.host} since ${holder.since}` : "an unreadable lock";
          throw new MoveError(`${objects.url()} is in use by ${who} (another backup or restore); delete ${objects.url(lock)} if that is wrong`);
        }
        await objects.delete(lock);
      }
      const busy = () => new MoveError(`${objects.url()} was locked by another backup or restore at the same moment; try again`);
      if (!(await objects.putText(lock, mine, { ifAbsent: true }))) throw busy();
      if ((await objects.getText(lock)) !== mine) throw busy();
      try {
        for (const [name, keys] of await snapshotObjects()) {
          if (!keys.includes(snapshotKey(name, MANIFEST_FILE))) await deleteAll(keys);
        }
        return await fn();
      } finally {
        if ((await objects.getText(lock).catch(() => null)) === mine) await objects.delete(lock).catch(() => {});
      }
    },

    async hasSnapshot(name) {
      for await (const _ of objects.list(snapshotKey(name))) return true;
      return false;
    },
    staging: (name) => localDir(`backup-${name}`),
    scratch: (tag) => localDir(tag),
    blobStore: (refs, dir) => s3ContentStore({ objects, refs, spoolDir: join(dir, ".spool"), known }),
    async blobSize(cid) {
      const size = await objects.head(s3BlobKey(cid));
      if (size !== null) known.add(cid);
      return size;
    },

    async publish(staging, name) {
      try {
        await objects.putFile(snapshotKey(name, DATABASE_FILE), join(staging, DATABASE_FILE));
        await objects.putFile(snapshotKey(name, BLOB_LIST_FILE), join(staging, BLOB_LIST_FILE));
        await objects.putFile(snapshotKey(name, MANIFEST_FILE), join(staging, MANIFEST_FILE));
      } finally {
        await removeTree(staging);
      }
      return location.snapshotUrl(name);
    },

    async listSnapshots() {
      const snapshots: { name: string; createdAt: string }[] = [];
      const broken: string[] = [];
      const scratch = await localDir("backup-list");
      try {
        for (const [name, keys] of await snapshotObjects()) {
          if (!keys.includes(snapshotKey(name, MANIFEST_FILE))) continue;
          const dir = join(scratch, name);
          await mkdir(dir);
          await writeFile(join(dir, MANIFEST_FILE), (await objects.getText(snapshotKey(name, MANIFEST_FILE))) ?? "");
          try {
            snapshots.push({ name, createdAt: (await readManifest(dir)).createdAt });
          } catch {
            broken.push(name);
          }
        }
      } finally {
        await removeTree(scratch);
      }
      snapshots.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
      return { snapshots, broken };
    },

    async applyRetention(keep): Promise<RetentionReport> {
      const { snapshots, broken } = await location.listSnapshots();
      const regular = snapshots.filter((s) => !s.name.startsWith(PRE_RESTORE_PREFIX));
      const doomed = regular.slice(0, Math.max(0, regular.length - keep)).map((s) => s.name);
      const all = await snapshotObjects();
      for (const name of doomed) await deleteSnapshot(name, all.get(name) ?? []);
      const report: RetentionReport = { deletedSnapshots: doomed, deletedBlobs: 0 };
      if (broken.length > 0) {
        report.skippedBlobSweep = `unreadable snapshot(s) ${broken.join(", ")} may still need their blobs`;
        return report;
      }
      const referenced = new Set<string>();
      for (const { name } of snapshots.filter((s) => !doomed.includes(s.name))) {
        const text = await objects.getText(snapshotKey(name, BLOB_LIST_FILE));
        if (text === null) {
          report.skippedBlobSweep = `snapshot ${name} has no ${BLOB_LIST_FILE}`;
          return report;
        }
        for (const blob of parseBlobList(name, text)) referenced.add(s3BlobKey(blob.cid));
      }
      const unreferenced: string[] = [];
      for await (const { key } of objects.list("blobs/")) if (!referenced.has(key)) unreferenced.push(key);
      await deleteAll(unreferenced);
      for (const key of unreferenced) known.delete(key.slice("blobs/".length));
      report.deletedBlobs = unreferenced.length;
      return report;
    },

    async fetchSnapshot(name, workDir) {
      const dir = join(workDir, "snapshot");
      await mkdir(dir, { recursive: true });
      // A file that is not there stays absent: the restore's checks say which.
      for (const file of [MANIFEST_FILE, BLOB_LIST_FILE, DATABASE_FILE]) await objects.download(snapshotKey(name, file), join(dir, file));
      return dir;
    },

    snapshotUrl: (name) => objects.url(snapshotKey(name).replace(/\/$/, "")),
    close: () => client.destroy(),
  };
  return location;
}

function parseLock(text: string): { host: string; pid: number; since: string } | null {
  try {
    const parsed = JSON.parse(text) as { host?: unknown; pid?: unknown; since?: unknown };
    if (typeof parsed.host === "string" && typeof parsed.pid === "number" && typeof parsed.since === "string") {
      return { host: parsed.host, pid: parsed.pid, since: parsed.since };
    }
  } catch {}
  return null;
}
