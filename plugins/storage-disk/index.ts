import { access, constants, type FileHandle, mkdir, open, readdir, rename, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import {
  assertCid,
  BlobNotFoundError,
  type BlobRange,
  type BlobRead,
  type BlobStat,
  type BlobStorePlugin,
  listLimit,
  newTempKey,
  PluginError,
  resolveRange,
  tempKeyTime,
} from "@/plugin-kit";
import { fileStream, fsCall, fsError, isNotFound, syncDirectory, writeAtomically } from "./file-io";
import { BLOCKS, PART_SUFFIX, QUARANTINE, TMP, blobPath, didDir, tempPath } from "./layout";

export interface DiskOptions {
  /** Blob directory; relative paths are under the data directory (PDS_BLOBSTORE_DISK_LOCATION). @default "blobs" */
  location?: string;
}

/** Blobs as files on local disk (layout in ./layout.ts): one node only. */
export function disk(options: DiskOptions = {}): BlobStorePlugin {
  const name = "storage-disk";
  let root: string | undefined;

  const base = () => {
    if (!root) throw new PluginError(name, "not initialised", { unavailable: true });
    return root;
  };
  const exists = async (path: string) => {
    try {
      await stat(path);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new PluginError(name, `stat failed: ${(err as Error).message}`, { cause: err });
    }
  };
  /**
   * Rename, reporting a missing source as `false` instead of an error. The
   * target's directory (and any directory this created on the way) is synced
   * before it resolves, so a blob made permanent stays so after a power loss.
   */
  const move = async (from: string, to: string) => {
    const dir = dirname(to);
    let created: string | undefined;
    for (let attempt = 0; ; attempt++) {
      created = (await fsCall(name, "create directory", () => mkdir(dir, { recursive: true }))) ?? created;
      try {
        await rename(from, to);
        break;
      } catch (err) {
        if (!isNotFound(err)) throw fsError(name, "rename", err);
        // A concurrent delete may have removed the directory it had just emptied: make it again, once.
        if (attempt === 0 && (await exists(from))) continue;
        return false;
      }
    }
    await syncDirectory(name, dir);
    if (created) {
      // Each new directory is an entry of its parent: sync the parents, up to the one that already existed.
      const top = dirname(created);
      for (let d = dirname(dir); ; d = dirname(d)) {
        await syncDirectory(name, d);
        if (d === top || d === dirname(d)) break;
      }
    }
    return true;
  };
  const remove = async (path: string) => {
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new PluginError(name, `delete failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const removeEmptyDir = async (path: string) => {
    try {
      await rmdir(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") throw new PluginError(name, `rmdir failed: ${(err as Error).message}`, { cause: err });
    }
  };

  const readdirOrEmpty = async (path: string) => {
    try {
      return await readdir(path);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw new PluginError(name, `list failed: ${(err as Error).message}`, { cause: err });
    }
  };

  /** Open blob (did, cid) in `area` and stream `range` of it; the handle is open before it is reported found. */
  const openBlob = async (area: typeof BLOCKS | typeof QUARANTINE, did: string, cid: string, range: BlobRange | undefined): Promise<BlobRead> => {
    const path = blobPath(base(), area, did, cid);
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(cid);
      throw new PluginError(name, `open failed: ${(err as Error).message}`, { cause: err });
    }
    try {
      const { size } = await handle.stat();
      const { start, end } = resolveRange(size, range);
      return { size, start, end, stream: fileStream(name, handle, start, end) };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  };

  return {
    kind: "blobs",
    name,
    shared: false,
    capabilities: { ranges: true },

    async init(ctx) {
      const dir = resolve(ctx.dataDir, options.location ?? "blobs");
      for (const area of [BLOCKS, QUARANTINE, TMP]) {
        await fsCall(name, `create ${join(dir, area)}`, () => mkdir(join(dir, area), { recursive: true }));
      }
      root = dir;
    },

    async health() {
      const dir = base();
      try {
        await access(join(dir, TMP), constants.W_OK);
      } catch (cause) {
        throw new PluginError(name, `${dir} is not writable`, { cause, unavailable: true });
      }
    },

    async putTemp(source) {
      const key = newTempKey();
      const final = tempPath(base(), key);
      const size = await writeAtomically(name, source, final + PART_SUFFIX, final);
      return { key, size };
    },

    async deleteTemp(key) {
      await remove(tempPath(base(), key));
    },

    async makePermanent(key, did, cid) {
      const temp = tempPath(base(), key);
      const target = blobPath(base(), BLOCKS, did, cid);
      if (await exists(blobPath(base(), QUARANTINE, did, cid))) {
        await remove(temp);
        return;
      }
      if (await move(temp, target)) return;
      if (!(await exists(target))) throw new BlobNotFoundError(`temp ${key}`);
    },

    get: (did, cid, range) => openBlob(BLOCKS, did, cid, range),
    getQuarantined: (did, cid) => openBlob(QUARANTINE, did, cid, undefined),

    async stat(did, cid): Promise<BlobStat | null> {
      const paths = [[blobPath(base(), BLOCKS, did, cid), false], [blobPath(base(), QUARANTINE, did, cid), true]] as const;
      for (const [path, quarantined] of paths) {
        try {
          const info = await stat(path);
          return { size: info.size, quarantined };
        } catch (err) {
          if (!isNotFound(err)) throw new PluginError(name, `stat failed: ${(err as Error).message}`, { cause: err });
        }
      }
      return null;
    },

    async list(did, { cursor, limit } = {}) {
      const dir = didDir(base(), BLOCKS, did);
      if (cursor !== undefined) assertCid(cursor);
      const pageSize = listLimit(limit);
      // Reads the whole account each page: fine for the single-node sizes disk serves.
      const cids: string[] = [];
      for (const shard of await readdirOrEmpty(dir)) {
        for (const entry of await readdirOrEmpty(join(dir, shard))) {
          if (cursor === undefined || entry > cursor) cids.push(entry);
        }
      }
      cids.sort();
      const page = cids.slice(0, pageSize);
      return cids.length > pageSize ? { cids: page, cursor: page[page.length - 1] } : { cids: page };
    },

    async delete(did, cids) {
      const paths = cids.flatMap((cid) => [blobPath(base(), BLOCKS, did, cid), blobPath(base(), QUARANTINE, did, cid)]);
      for (const path of paths) await remove(path);
      // Directories left empty go too, so a deleted account leaves no path naming it (`move` copes with the race).
      for (const dir of new Set(paths.map(dirname))) await removeEmptyDir(dir);
      for (const area of [BLOCKS, QUARANTINE] as const) await removeEmptyDir(didDir(base(), area, did));
    },

    async quarantine(did, cid) {
      const quarantined = blobPath(base(), QUARANTINE, did, cid);
      if (await move(blobPath(base(), BLOCKS, did, cid), quarantined)) return;
      if (!(await exists(quarantined))) throw new BlobNotFoundError(cid);
    },

    async unquarantine(did, cid) {
      const served = blobPath(base(), BLOCKS, did, cid);
      if (await move(blobPath(base(), QUARANTINE, did, cid), served)) return;
      if (!(await exists(served))) throw new BlobNotFoundError(cid);
    },

    async sweepTemp(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      for (const entry of await readdirOrEmpty(join(base(), TMP))) {
        const key = entry.endsWith(PART_SUFFIX) ? entry.slice(0, -PART_SUFFIX.length) : entry;
        const created = tempKeyTime(key);
        // Anything not named like a temp key is not ours to delete.
        if (created === null || created >= cutoff) continue;
        if (await remove(join(base(), TMP, entry))) removed++;
      }
      return removed;
    },

    describe: () => ({ location: options.location ?? "blobs" }),
    async close() {},
  };
}
