import { createHash } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  assertCid,
  assertDid,
  assertTempKey,
  BlobNotFoundError,
  type BlobRead,
  type Db,
  listLimit,
  newTempKey,
  PluginError,
  resolveRange,
  tempKeyTime,
} from "@/plugin-kit";
import { cidOfHash, sameContent, verifiedStream } from "./content-check";
import type { ContentStore } from "./content-store";
import type { BackupObjects } from "./s3-objects";

const NAME = "backup-s3";

/** The key of blob `cid` in an S3 backup, relative to its prefix: shared by every snapshot. */
export function s3BlobKey(cid: string): string {
  assertCid(cid);
  return `blobs/${cid}`;
}

export interface S3ContentStoreOptions {
  objects: BackupObjects;
  /** The snapshot's own database: its `blob` table says which (did, cid) it holds and which are taken down. */
  refs: () => Db;
  /** A local directory for uploads being received (hashed there before anything goes to the bucket). */
  spoolDir: string;
  /** CIDs known to be in the bucket already (HEAD answered, or uploaded by this run): shared with the location. */
  known: Set<string>;
}

/**
 * The blob store of an S3 backup, `<prefix>/blobs/<cid>`, seen through one
 * snapshot's `blob` table: the S3 twin of contentStore (content-store.ts).
 * An upload is spooled to a local file while it is hashed; `makePermanent`
 * checks it against its CID and uploads it only when the bucket does not
 * have that CID yet (a HEAD), so a second backup sends only new blobs and a
 * blob object always holds the bytes its key names. Whole-blob reads are
 * re-hashed while they stream, so an object damaged in the bucket fails the
 * restore. `delete` refuses: only retention removes shared blobs.
 */
export function s3ContentStore(options: S3ContentStoreOptions): ContentStore {
  const { objects, spoolDir, known } = options;
  const uploaded = new Map<string, string>();
  let written = 0;

  const spoolFile = (key: string) => {
    assertTempKey(key);
    return join(spoolDir, key);
  };
  const row = async (did: string, cid: string) => {
    assertDid(did);
    assertCid(cid);
    return options
      .refs()
      .selectFrom("blob")
      .select(["size", "takedown_ref"])
      .where("did", "=", did)
      .where("cid", "=", cid)
      .where("temp_key", "is", null)
      .executeTakeFirst();
  };
  const present = async (cid: string) => {
    if (known.has(cid)) return true;
    const size = await objects.head(s3BlobKey(cid));
    if (size !== null) known.add(cid);
    return size !== null;
  };
  const read = async (cid: string, size: number, range: { start: number; end?: number } | undefined): Promise<BlobRead> => {
    const { start, end } = resolveRange(size, range);
    const whole = start === 0 && end === size - 1;
    const got = await objects.read(s3BlobKey(cid), whole ? undefined : { start, end });
    if (!got) throw new BlobNotFoundError(cid);
    return { size, start, end, stream: whole ? verifiedStream(got.stream, cid, NAME) : got.stream };
  };

  return {
    kind: "blobs",
    name: NAME,
    shared: false,
    capabilities: { ranges: true },

    async init() {
      await mkdir(spoolDir, { recursive: true });
    },
    async health() {},

    async putTemp(source) {
      const key = newTempKey();
      const path = spoolFile(key);
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
      } catch (err) {
        await handle?.close().catch(() => {});
        await unlink(path).catch(() => {});
        if (err instanceof Error && !(err as NodeJS.ErrnoException).code) throw err;
        throw new PluginError(NAME, `spool an upload in ${spoolDir}: ${(err as Error).message}`, { cause: err });
      }
      await handle.close();
      uploaded.set(key, cidOfHash(hash));
      return { key, size };
    },

    async deleteTemp(key) {
      uploaded.delete(key);
      await unlink(spoolFile(key)).catch(() => {});
    },

    async makePermanent(key, did, cid) {
      assertDid(did);
      assertCid(cid);
      const path = spoolFile(key);
      const actual = uploaded.get(key);
      uploaded.delete(key);
      if (actual === undefined) {
        if (await present(cid)) return;
        throw new BlobNotFoundError(`temp ${key}`);
      }
      try {
        if (!sameContent(actual, cid)) {
          throw new PluginError(NAME, `blob ${cid} of ${did} arrived with other bytes (they hash to ${actual}); the source store is damaged`);
        }
        if (await present(cid)) return;
        await objects.putFile(s3BlobKey(cid), path);
        known.add(cid);
        written++;
      } finally {
        await unlink(path).catch(() => {});
      }
    },

    async get(did, cid, range) {
      const held = await row(did, cid);
      if (!held || held.takedown_ref !== null) throw new BlobNotFoundError(cid);
      return read(cid, Number(held.size), range);
    },

    async getQuarantined(did, cid) {
      const held = await row(did, cid);
      if (!held || held.takedown_ref === null) throw new BlobNotFoundError(cid);
      return read(cid, Number(held.size), undefined);
    },

    async stat(did, cid) {
      const held = await row(did, cid);
      if (!held) return null;
      const size = known.has(cid) ? Number(held.size) : await objects.head(s3BlobKey(cid));
      if (size === null) return null;
      known.add(cid);
      return { size, quarantined: held.takedown_ref !== null };
    },

    async list(did, { cursor, limit } = {}) {
      assertDid(did);
      if (cursor !== undefined) assertCid(cursor);
      const pageSize = listLimit(limit);
      let query = options.refs().selectFrom("blob").select("cid").where("did", "=", did).where("temp_key", "is", null).where("takedown_ref", "is", null);
      if (cursor !== undefined) query = query.where("cid", ">", cursor);
      const rows = await query.orderBy("cid").limit(pageSize + 1).execute();
      const cids = rows.slice(0, pageSize).map((r) => r.cid);
      return rows.length > pageSize ? { cids, cursor: cids[cids.length - 1] } : { cids };
    },

    async delete() {
      throw new PluginError(NAME, "a backup's blobs are shared by its snapshots: only retention (--keep) removes them");
    },
    // The quarantine state is the snapshot's takedown_ref, copied with the database: nothing to move.
    async quarantine(did, cid) {
      if (!(await this.stat(did, cid))) throw new BlobNotFoundError(cid);
    },
    async unquarantine(did, cid) {
      if (!(await this.stat(did, cid))) throw new BlobNotFoundError(cid);
    },

    async sweepTemp(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      for (const entry of await readdir(spoolDir).catch(() => [] as string[])) {
        const created = tempKeyTime(entry);
        if (created !== null && created < cutoff) {
          await unlink(join(spoolDir, entry)).catch(() => {});
          uploaded.delete(entry);
          removed++;
        }
      }
      return removed;
    },

    written: () => written,
    describe: () => ({ url: objects.url("blobs") }),
    async close() {
      uploaded.clear();
    },
  };
}
