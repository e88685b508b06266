import { createHash } from "node:crypto";
import { type FileHandle, mkdir, open, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { assertCid, assertDid, BlobNotFoundError, type BlobRange, type BlobRead, type BlobStorePlugin, type Db, PluginError, resolveRange } from "@/plugin-kit";
import { cidOfHash, sameContent } from "./content-check";
import { durableRename } from "./durable-fs";
import { listSnapshotBlobs, sharedBlobRules, snapshotRow, uploadSpool } from "./snapshot-blobs";

const NAME = "backup-blobs";
const TMP = "tmp";
const READ_CHUNK = 64 * 1024;

export interface ContentStoreOptions {
  /** The backup directory's blob store, shared by all its snapshots: `<DIR>/blobs`. */
  root: string;
  /**
   * The snapshot's own database. Its `blob` table says which (did, cid) this
   * snapshot holds (permanent rows) and which are quarantined (a takedown_ref,
   * as src/admin/takedown.ts keeps them), so the shared bytes serve each
   * snapshot exactly as its source store served them.
   */
  refs: () => Db;
}

/** The backup blob store: the blob-store contract, and how many blobs it has had to write. */
export interface ContentStore extends BlobStorePlugin {
  /** Blobs this instance stored that the directory did not have yet. */
  written(): number;
}

/**
 * A blob store over a backup's content-addressed files, `<root>/<2 chars of
 * the CID>/<cid>`, seen through one snapshot's `blob` table. Bytes are stored
 * once whatever the number of accounts and snapshots referring to them, so a
 * second backup writes only blobs that are new. Every blob made permanent is
 * checked against its CID first (a source that returns other bytes fails the
 * backup), and a whole-blob `get` re-hashes while streaming, so a blob file
 * damaged on the backup disk fails the restore instead of being served.
 *
 * `delete` refuses: the bytes belong to every snapshot of the directory, and
 * only retention (src/move/backup.ts) may remove those no snapshot names.
 */
export function contentStore(options: ContentStoreOptions): ContentStore {
  const { root } = options;
  const spool = uploadSpool({ dir: join(root, TMP), name: NAME, sync: true });
  let written = 0;

  const blobFile = (cid: string) => {
    assertCid(cid);
    return join(root, cid.slice(-3, -1), cid);
  };
  const fail = (what: string, cause: unknown): never => {
    if (cause instanceof PluginError || cause instanceof BlobNotFoundError) throw cause;
    throw new PluginError(NAME, `${what}: ${(cause as Error).message}`, { cause });
  };
  const row = (did: string, cid: string) => snapshotRow(options.refs, did, cid);
  const fileSize = async (path: string) => {
    try {
      return (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      return fail(`stat ${path}`, err);
    }
  };

  /** Stream `range` of blob file `cid`; a whole-blob read is re-hashed against the CID as it streams. */
  const openFile = async (cid: string, range: BlobRange | undefined): Promise<BlobRead> => {
    let handle: FileHandle;
    try {
      handle = await open(blobFile(cid), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new BlobNotFoundError(cid);
      return fail(`open blob ${cid}`, err);
    }
    try {
      const { size } = await handle.stat();
      const { start, end } = resolveRange(size, range);
      return { size, start, end, stream: checkedStream(handle, cid, start, end, !range) };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  };

  const store: ContentStore = {
    kind: "blobs",
    name: NAME,
    shared: false,
    capabilities: { ranges: true },

    async init() {
      await mkdir(join(root, TMP), { recursive: true }).catch((err) => fail(`create ${root}`, err));
    },
    async health() {
      await stat(join(root, TMP)).catch((err) => fail(`${root} is not usable`, err));
    },

    putTemp: (source) => spool.put(source),
    deleteTemp: (key) => spool.drop(key),

    async makePermanent(key, did, cid) {
      assertDid(did);
      const target = blobFile(cid);
      const upload = spool.take(key);
      if (upload === undefined) {
        if ((await fileSize(target)) !== null) return;
        throw new BlobNotFoundError(`temp ${key}`);
      }
      if (!sameContent(upload.cid, cid)) {
        await unlink(upload.path).catch(() => {});
        throw new PluginError(NAME, `blob ${cid} of ${did} arrived with other bytes (they hash to ${upload.cid}); the source store is damaged`);
      }
      try {
        if ((await fileSize(target)) !== null) {
          await unlink(upload.path);
          return;
        }
        await mkdir(join(root, cid.slice(-3, -1)), { recursive: true });
        await durableRename(upload.path, target);
        written++;
      } catch (err) {
        fail(`store blob ${cid}`, err);
      }
    },

    async get(did, cid, range): Promise<BlobRead> {
      const held = await row(did, cid);
      if (!held || held.takedown_ref !== null) throw new BlobNotFoundError(cid);
      return openFile(cid, range);
    },

    // A snapshot's taken-down blobs are stored like the rest; its takedown_ref is what quarantines them.
    async getQuarantined(did, cid): Promise<BlobRead> {
      const held = await row(did, cid);
      if (!held || held.takedown_ref === null) throw new BlobNotFoundError(cid);
      return openFile(cid, undefined);
    },

    async stat(did, cid) {
      const held = await row(did, cid);
      if (!held) return null;
      const size = await fileSize(blobFile(cid));
      return size === null ? null : { size, quarantined: held.takedown_ref !== null };
    },

    list: (did, page) => listSnapshotBlobs(options.refs, did, page),
    ...sharedBlobRules(NAME, (did, cid) => store.stat(did, cid)),
    sweepTemp: (olderThanMs) => spool.sweep(olderThanMs),

    written: () => written,
    describe: () => ({ root }),
    async close() {
      spool.clear();
    },
  };
  return store;
}

/** Where the content store keeps blob `cid` under `root` (retention and restore checks read it too). */
export function contentPath(root: string, cid: string): string {
  assertCid(cid);
  return join(root, cid.slice(-3, -1), cid);
}

/**
 * Bytes [start, end] of an open blob file; when `verify` (a whole-blob read),
 * the stream errors at its end if the bytes do not hash to `cid`.
 */
function checkedStream(handle: FileHandle, cid: string, start: number, end: number, verify: boolean): ReadableStream<Uint8Array> {
  let position = start;
  const hash = verify ? createHash("sha256") : undefined;
  const done = () => handle.close().catch(() => {});
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const remaining = end - position + 1;
        if (remaining <= 0) {
          await done();
          if (hash && !sameContent(cidOfHash(hash), cid)) {
            throw new Error(`blob ${cid} in the backup is damaged: its bytes no longer hash to its CID`);
          }
          controller.close();
          return;
        }
        const buffer = new Uint8Array(Math.min(READ_CHUNK, remaining));
        const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
        if (bytesRead === 0) throw new Error(`blob ${cid} ended ${remaining} bytes early`);
        position += bytesRead;
        const chunk = bytesRead === buffer.byteLength ? buffer : buffer.subarray(0, bytesRead);
        hash?.update(chunk);
        controller.enqueue(chunk);
      } catch (cause) {
        await done();
        controller.error(new PluginError(NAME, (cause as Error).message, { cause }));
      }
    },
    cancel: done,
  });
}
