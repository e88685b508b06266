import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type RunConfig, resolveConfig } from "@/config/resolve";
import type { DatabasePlugin } from "@/contracts/db";
import { sqlite } from "@plugins/db-sqlite";
import type { Db } from "@/plugin-kit";
import type { BackupLocation } from "./backup-location";
import type { ContentStore } from "./content-store";
import { removeTree } from "./durable-fs";
import { type Endpoint, initBackends } from "./endpoint";
import { DATABASE_FILE } from "./manifest";

/**
 * A backup snapshot as a move endpoint: its SQLite file through the db-sqlite
 * plugin and the backup location's shared blob store seen through that
 * database (content-store.ts, s3-content-store.ts), so the movers' copyDatabase /
 * copyBlobs / verifyCopy read and write a snapshot like any config.
 *
 * A snapshot has no secrets of its own; the endpoint carries those of the
 * config it is paired with (`secretsOf`): the backed-up server's when
 * writing, the restore target's when reading (restore checks the manifest's
 * rotation key fingerprint first).
 */
export interface SnapshotEndpoint extends Endpoint {
  /** The SQLite file the endpoint has open. */
  readonly databaseFile: string;
  readonly blobs: ContentStore;
}

/**
 * A fresh, empty snapshot in staging directory `dir` (from `location`),
 * migrated to this version's latest schema, to copy a server into.
 */
export async function createSnapshotTarget(dir: string, location: BackupLocation, secretsOf: RunConfig): Promise<SnapshotEndpoint> {
  await mkdir(dir, { recursive: true });
  // Durability comes from syncing the finished file before the snapshot is published.
  const db = sqlite({ path: join(dir, DATABASE_FILE), synchronous: "normal" });
  return open(dir, join(dir, DATABASE_FILE), db, (refs) => location.blobStore(refs, dir), secretsOf, { migrate: true, label: dir });
}

/**
 * Open the local files `dir` of a snapshot of `location` for reading
 * (`label`: its address, for messages). The snapshot's
 * file is never opened itself (opening a SQLite file in WAL mode writes to
 * it, and its hash must stay what the manifest says): a working copy is made
 * under `workDir` and removed by `close()`. The copy is not migrated; call
 * `migrateToLatest` on its `db` once its contents have been checked against
 * the manifest, so a backup made by an older version restores into this one.
 */
export async function openSnapshot(dir: string, location: BackupLocation, workDir: string, secretsOf: RunConfig, label = dir): Promise<SnapshotEndpoint> {
  await removeTree(workDir);
  await mkdir(workDir, { recursive: true });
  const file = join(workDir, DATABASE_FILE);
  try {
    await copyFile(join(dir, DATABASE_FILE), file);
    const db = sqlite({ path: file, synchronous: "normal" });
    const endpoint = await open(dir, file, db, (refs) => location.blobStore(refs, workDir), secretsOf, { migrate: false, label });
    return {
      ...endpoint,
      close: async () => {
        await endpoint.close();
        await removeTree(workDir);
      },
    };
  } catch (err) {
    await removeTree(workDir);
    throw err;
  }
}

async function open(
  dir: string,
  file: string,
  db: DatabasePlugin,
  store: (refs: () => Db) => ContentStore,
  secretsOf: RunConfig,
  opts: { migrate: boolean; label: string },
): Promise<SnapshotEndpoint> {
  const blobs = store(() => db.db());
  const config = { ...resolveConfig({ dataDir: dir, db, blobs }), secrets: secretsOf.secrets } as RunConfig;
  const close = await initBackends(dir, db, blobs, opts.migrate);
  return { config, source: `backup ${opts.label}`, db, blobs, databaseFile: file, close };
}
