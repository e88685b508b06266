import { mkdir, unlink } from "node:fs/promises";
import { assertCid, assertDid, BlobNotFoundError, type BlobRead, type Db, PluginError, resolveRange } from "@/plugin-kit";
import { sameContent, verifiedStream } from "./content-check";
import type { ContentStore } from "./content-store";
import type { BackupObjects } from "./s3-objects";
import { listSnapshotBlobs, sharedBlobRules, snapshotRow, uploadSpool } from "./snapshot-blobs";

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
  const spool = uploadSpool({ dir: spoolDir, name: NAME, sync: false });
  let written = 0;
  const row = (did: string, cid: string) => snapshotRow(options.refs, did, cid);
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

  const store: ContentStore = {
    kind: "blobs",
    name: NAME,
    shared: false,
    capabilities: { ranges: true },

    async init() {
      await mkdir(spoolDir, { recursive: true });
    },
    async health() {},

    putTemp: (source) => spool.put(source),
    deleteTemp: (key) => spool.drop(key),

    async makePermanent(key, did, cid) {
      assertDid(did);
      assertCid(cid);
      const upload = spool.take(key);
      if (upload === undefined) {
        if (await present(cid)) return;
        throw new BlobNotFoundError(`temp ${key}`);
      }
      try {
        if (!sameContent(upload.cid, cid)) {
          throw new PluginError(NAME, `blob ${cid} of ${did} arrived with other bytes (they hash to ${upload.cid}); the source store is damaged`);
        }
        if (await present(cid)) return;
        await objects.putFile(s3BlobKey(cid), upload.path);
        known.add(cid);
        written++;
      } finally {
        await unlink(upload.path).catch(() => {});
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

    list: (did, page) => listSnapshotBlobs(options.refs, did, page),
    ...sharedBlobRules(NAME, (did, cid) => store.stat(did, cid)),
    sweepTemp: (olderThanMs) => spool.sweep(olderThanMs),

    written: () => written,
    describe: () => ({ url: objects.url("blobs") }),
    async close() {
      spool.clear();
    },
  };
  return store;
}
