import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  assertCid,
  assertRange,
  BlobNotFoundError,
  type BlobRange,
  BlobRangeError,
  type BlobRead,
  type BlobSource,
  type BlobStat,
  type BlobStorePlugin,
  inBatches,
  listLimit,
  newTempKey,
  tempKeyTime,
} from "@/plugin-kit";
import { isInvalidRange, isMissingObject, s3Failure } from "./errors";
import type { S3Keys } from "./keys";

/** Multipart part size: S3's minimum, so an upload holds at most PART_SIZE × QUEUE_SIZE in memory. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;

type BlobOps = Omit<BlobStorePlugin, "kind" | "name" | "shared" | "capabilities" | "init" | "health" | "close" | "describe">;

/** The blob operations over one bucket; `client()` throws until the plugin is initialised. */
export function s3BlobOps(name: string, bucket: string, keys: S3Keys, client: () => S3Client): BlobOps {
  const send = async <T>(what: string, run: (s3: S3Client) => Promise<T>): Promise<T> => {
    try {
      return await run(client());
    } catch (err) {
      throw isMissingObject(err) || isInvalidRange(err) ? err : s3Failure(name, what, err);
    }
  };
  /** Run `fn`; a missing object becomes `onMissing()`. */
  const orMissing = async <T>(fn: () => Promise<T>, onMissing: () => T | Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isMissingObject(err)) return onMissing();
      throw err;
    }
  };
  const head = (key: string) =>
    orMissing(
      async () => (await send("head", (s3) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).ContentLength ?? 0,
      () => null,
    );
  const copy = (from: string, to: string) =>
    send("copy", (s3) => s3.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: copySource(bucket, from) })));
  const del = (key: string) => send("delete", (s3) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
  const delMany = async (list: string[]) => {
    await inBatches(
      list,
      async (chunk) => {
        const Objects = chunk.map((Key) => ({ Key }));
        const out = await send("delete", (s3) =>
          s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } })),
        );
        const failed = out.Errors?.filter((e) => e.Code !== "NoSuchKey") ?? [];
        if (failed.length > 0) throw s3Failure(name, "delete", new Error(`${failed.length} keys not deleted: ${failed[0]?.Code}`));
      },
      DELETE_BATCH,
    );
  };
  /**
   * One page of keys under `prefix` after `marker`. ListObjects (v1) with a
   * marker rather than v2: paging needs only the last key, and s3rver fails
   * with a 500 whenever it has to mint a v2 continuation token.
   */
  const listPage = async (prefix: string, marker: string | undefined, max: number) => {
    const out = await send("list", (s3) =>
      s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker, MaxKeys: max })),
    );
    const found = (out.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    return { keys: found, truncated: out.IsTruncated === true };
  };
  /** Move an object by copy + delete; `false` when the source does not exist. */
  const move = (from: string, to: string) =>
    orMissing(
      async () => {
        await copy(from, to);
        await del(from);
        return true;
      },
      () => false,
    );

  /** Stream `range` of blob (did, cid) in `area`; a missing object is BlobNotFoundError. */
  const read = async (area: "blocks" | "quarantine", did: string, cid: string, range: BlobRange | undefined): Promise<BlobRead> => {
    const key = keys.blob(area, did, cid);
    if (range) assertRange(range);
    const Range = range ? `bytes=${range.start}-${range.end ?? ""}` : undefined;
    try {
      const out = await send("get", (s3) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range })));
      if (!out.Body) throw s3Failure(name, "get", new Error("response without a body"));
      const length = out.ContentLength ?? 0;
      const parsed = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(out.ContentRange ?? "");
      const [start, end, size] = parsed ? [Number(parsed[1]), Number(parsed[2]), Number(parsed[3])] : [0, length - 1, length];
      return { size, start, end, stream: out.Body.transformToWebStream() };
    } catch (err) {
      if (isMissingObject(err)) throw new BlobNotFoundError(cid);
      if (isInvalidRange(err)) {
        const size = await head(key);
        if (size === null) throw new BlobNotFoundError(cid);
        throw new BlobRangeError(size);
      }
      throw err;
    }
  };

  return {
    async putTemp(source: BlobSource) {
      const key = newTempKey();
      const objectKey = keys.temp(key);
      let size = 0;
      let sourceError: unknown;
      // Only errors from the source's own next() count as the source's: a
      // failing upload also throws into this generator when it tears down.
      async function* counted() {
        const chunks = source[Symbol.asyncIterator]();
        let finished = false;
        try {
          for (;;) {
            const next = await chunks.next().catch((err: unknown) => {
              sourceError = err;
              throw err;
            });
            if (next.done) break;
            size += next.value.byteLength;
            yield next.value;
          }
          finished = true;
        } finally {
          if (!finished && sourceError === undefined) await chunks.return?.();
        }
      }
      // lib-storage cuts the stream into buffered parts (a single PutObject when
      // it fits in one) and aborts the multipart upload when anything fails.
      const upload = new Upload({
        client: client(),
        params: { Bucket: bucket, Key: objectKey, Body: Readable.from(counted()), ContentType: "application/octet-stream" },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
      });
      try {
        await upload.done();
      } catch (err) {
        // A body cut short can still leave an object behind on some servers;
        // if this delete fails too, the sweeper removes it later.
        await del(objectKey).catch(() => {});
        throw sourceError ?? s3Failure(name, "upload", err);
      }
      return { key, size };
    },

    async deleteTemp(key) {
      await del(keys.temp(key));
    },

    async makePermanent(key, did, cid) {
      const temp = keys.temp(key);
      const target = keys.blob("blocks", did, cid);
      if ((await head(keys.blob("quarantine", did, cid))) !== null) {
        await del(temp);
        return;
      }
      if (await move(temp, target)) return;
      if ((await head(target)) === null) throw new BlobNotFoundError(`temp ${key}`);
    },

    get: (did, cid, range) => read("blocks", did, cid, range),
    getQuarantined: (did, cid) => read("quarantine", did, cid, undefined),

    async stat(did, cid): Promise<BlobStat | null> {
      const served = await head(keys.blob("blocks", did, cid));
      if (served !== null) return { size: served, quarantined: false };
      const hidden = await head(keys.blob("quarantine", did, cid));
      return hidden === null ? null : { size: hidden, quarantined: true };
    },

    async list(did, { cursor, limit } = {}) {
      const prefix = keys.didPrefix("blocks", did);
      if (cursor !== undefined) assertCid(cursor);
      const { keys: found, truncated } = await listPage(prefix, cursor === undefined ? undefined : prefix + cursor, listLimit(limit));
      const cids = found.map((key) => key.slice(prefix.length));
      return truncated && cids.length > 0 ? { cids, cursor: cids[cids.length - 1] } : { cids };
    },

    async delete(did, cids) {
      await delMany(cids.flatMap((cid) => [keys.blob("blocks", did, cid), keys.blob("quarantine", did, cid)]));
    },

    async quarantine(did, cid) {
      const hidden = keys.blob("quarantine", did, cid);
      if (await move(keys.blob("blocks", did, cid), hidden)) return;
      if ((await head(hidden)) === null) throw new BlobNotFoundError(cid);
    },

    async unquarantine(did, cid) {
      const served = keys.blob("blocks", did, cid);
      if (await move(keys.blob("quarantine", did, cid), served)) return;
      if ((await head(served)) === null) throw new BlobNotFoundError(cid);
    },

    async sweepTemp(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      let after: string | undefined;
      // Keys sort by creation time, so the first young key ends the sweep.
      for (let page = 0; page < 100_000; page++) {
        const { keys: found, truncated } = await listPage(keys.tempPrefix, after, DELETE_BATCH);
        const old: string[] = [];
        let reachedYoung = false;
        for (const key of found) {
          const created = tempKeyTime(key.slice(keys.tempPrefix.length));
          if (created === null) continue;
          if (created >= cutoff) {
            reachedYoung = true;
            break;
          }
          old.push(key);
        }
        await delMany(old);
        removed += old.length;
        if (reachedYoung || !truncated || found.length === 0) break;
        after = found[found.length - 1];
      }
      return removed;
    },
  };
}

/**
 * CopySource is "bucket/key", URL-encoded. encodeURI (not encodeURIComponent)
 * because some S3-compatible servers (s3rver) decode it with decodeURI, which
 * leaves an encoded ":" as "%3A"; our keys only need "%" escaped.
 */
function copySource(bucket: string, key: string): string {
  return encodeURI(`${bucket}/${key}`);
}
