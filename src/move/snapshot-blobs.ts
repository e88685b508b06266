import { createHash } from "node:crypto";
import { type FileHandle, open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  assertCid,
  assertDid,
  assertTempKey,
  BlobNotFoundError,
  type BlobPage,
  type BlobSource,
  type BlobStat,
  type Db,
  listLimit,
  newTempKey,
  PluginError,
  tempKeyTime,
} from "@/plugin-kit";
import { cidOfHash } from "./content-check";

/**
 * What the two backup blob stores (content-store.ts: a directory; s3-content-store.ts: a bucket) share: both hold
 * content-addressed bytes seen through one snapshot's `blob` table, receive uploads into a local spool directory
 * (hashed as they arrive, so makePermanent can check them against their CID), and refuse to delete shared bytes.
 */

/** The snapshot's row for (did, cid) when it holds the blob permanently: its size and takedown state. */
export async function snapshotRow(refs: () => Db, did: string, cid: string) {
  assertDid(did);
  assertCid(cid);
  return refs()
    .selectFrom("blob")
    .select(["size", "takedown_ref"])
    .where("did", "=", did)
    .where("cid", "=", cid)
    .where("temp_key", "is", null)
    .executeTakeFirst();
}

/** A DID's servable blobs in the snapshot, ordered by CID (the contract's `list`). */
export async function listSnapshotBlobs(refs: () => Db, did: string, { cursor, limit }: { cursor?: string; limit?: number } = {}): Promise<BlobPage> {
  assertDid(did);
  if (cursor !== undefined) assertCid(cursor);
  const pageSize = listLimit(limit);
  let query = refs().selectFrom("blob").select("cid").where("did", "=", did).where("temp_key", "is", null).where("takedown_ref", "is", null);
  if (cursor !== undefined) query = query.where("cid", ">", cursor);
  const rows = await query.orderBy("cid").limit(pageSize + 1).execute();
  const cids = rows.slice(0, pageSize).map((r) => r.cid);
  return rows.length > pageSize ? { cids, cursor: cids[cids.length - 1] } : { cids };
}

/**
 * The contract methods a backup store answers the same way whatever holds its bytes: `delete` refuses (the bytes
 * belong to every snapshot; only retention removes them), and quarantine is the snapshot's takedown_ref, copied with
 * the database, so (un)quarantine only checks the blob is there.
 */
export function sharedBlobRules(name: string, stat: (did: string, cid: string) => Promise<BlobStat | null>) {
  const mustExist = async (did: string, cid: string) => {
    if (!(await stat(did, cid))) throw new BlobNotFoundError(cid);
  };
  return {
    async delete(): Promise<void> {
      throw new PluginError(name, "a backup's blobs are shared by its snapshots: only retention (--keep) removes them");
    },
    quarantine: mustExist,
    unquarantine: mustExist,
  };
}

/** A local directory receiving uploads: each one written to its own file and hashed on the way. */
export interface UploadSpool {
  /** The contract's putTemp: write `source` to a new spool file (fsynced when `sync`), remembering its CID. */
  put(source: BlobSource): Promise<{ key: string; size: number }>;
  /** The spool file and the CID its bytes hash to, forgetting the upload; undefined when unknown. */
  take(key: string): { path: string; cid: string } | undefined;
  /** The contract's deleteTemp. */
  drop(key: string): Promise<void>;
  /** The contract's sweepTemp: spool files older than `olderThanMs`. */
  sweep(olderThanMs: number): Promise<number>;
  clear(): void;
}

export function uploadSpool(opts: { dir: string; name: string; sync: boolean }): UploadSpool {
  const { dir, name } = opts;
  /** CID of each upload, computed while it was written. */
  const uploaded = new Map<string, string>();
  const file = (key: string) => {
    assertTempKey(key);
    return join(dir, key);
  };
  return {
    async put(source) {
      const key = newTempKey();
      const path = file(key);
      const hash = createHash("sha256");
      let size = 0;
      let handle: FileHandle | undefined;
      try {
        handle = await open(path, "wx");
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.byteLength;
          for (let at = 0; at < chunk.byteLength; ) at += (await handle.write(chunk, at)).bytesWritten;
        }
        if (opts.sync) await handle.sync();
      } catch (err) {
        await handle?.close().catch(() => {});
        await unlink(path).catch(() => {});
        if (err instanceof Error && !(err as NodeJS.ErrnoException).code) throw err; // the source's own error
        throw new PluginError(name, `write an upload in ${dir}: ${(err as Error).message}`, { cause: err });
      }
      await handle.close();
      uploaded.set(key, cidOfHash(hash));
      return { key, size };
    },
    take(key) {
      const path = file(key);
      const cid = uploaded.get(key);
      uploaded.delete(key);
      return cid === undefined ? undefined : { path, cid };
    },
    async drop(key) {
      uploaded.delete(key);
      await unlink(file(key)).catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new PluginError(name, `delete an upload: ${(err as Error).message}`, { cause: err });
      });
    },
    async sweep(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      for (const entry of await readdir(dir).catch(() => [] as string[])) {
        const created = tempKeyTime(entry);
        if (created !== null && created < cutoff) {
          await unlink(join(dir, entry)).catch(() => {});
          uploaded.delete(entry);
          removed++;
        }
      }
      return removed;
    },
    clear: () => uploaded.clear(),
  };
}
