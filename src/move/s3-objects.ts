import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { PluginError } from "@/errors";
import { describeSdkError, isMissingObject } from "@plugins/storage-s3/errors";
import { s3Url } from "./s3-settings";

const NAME = "backup-s3";
/** Multipart part size for large files (the database): S3's minimum, two parts in flight. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
const LIST_PAGE = 1000;

/**
 * The few object operations an S3 backup needs, over one bucket and key
 * prefix. Keys given here are relative to the prefix. Every failure is a
 * PluginError naming `backup-s3`, the operation and the object's address.
 */
export interface BackupObjects {
  /** `s3://bucket/prefix/<key>`, for messages. */
  url(key?: string): string;
  /** Size of the object at `key`, or null when there is none. */
  head(key: string): Promise<number | null>;
  /** Store `text` at `key`; with `ifAbsent` the write fails (false) when the key exists, on servers that honour If-None-Match. */
  putText(key: string, text: string, opts?: { ifAbsent?: boolean }): Promise<boolean>;
  /** Stream local file `path` to `key` (multipart when large). */
  putFile(key: string, path: string): Promise<void>;
  /** The object at `key` as text, or null when there is none. */
  getText(key: string): Promise<string | null>;
  /** Stream the object at `key` into local file `path`; false when there is none. */
  download(key: string, path: string): Promise<boolean>;
  /** Stream bytes of `key` (`range` inclusive); null when there is none. */
  read(key: string, range?: { start: number; end: number }): Promise<{ size: number; stream: ReadableStream<Uint8Array> } | null>;
  /** Every key under `under` (relative), in key order. */
  list(under: string): AsyncIterable<{ key: string; size: number }>;
  /** Delete `key`; gone already is fine. */
  delete(key: string): Promise<void>;
}

/** BackupObjects over `client`, bucket `bucket`, prefix `prefix` ("" or "a/b"). */
export function backupObjects(client: S3Client, bucket: string, prefix: string): BackupObjects {
  const full = (key: string) => (prefix === "" ? key : `${prefix}/${key}`);
  const url = (key = "") => s3Url(bucket, prefix, key);
  const fail = (what: string, key: string, cause: unknown): never => {
    throw new PluginError(NAME, `${what} ${url(key)} failed: ${describeSdkError(cause)}`, { cause });
  };
  const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

  return {
    url,
    async head(key) {
      try {
        return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }))).ContentLength ?? 0;
      } catch (err) {
        if (isMissingObject(err)) return null;
        return fail("HEAD", key, err);
      }
    },
    async putText(key, text, opts = {}) {
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: full(key), Body: text, ContentType: "text/plain; charset=utf-8", IfNoneMatch: opts.ifAbsent ? "*" : undefined }),
        );
        return true;
      } catch (err) {
        if (opts.ifAbsent && (status(err) === 412 || status(err) === 409)) return false;
        return fail("PUT", key, err);
      }
    },
    async putFile(key, path) {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: full(key), Body: createReadStream(path, { highWaterMark: 1 << 20 }), ContentType: "application/octet-stream" },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
      });
      try {
        await upload.done();
      } catch (err) {
        fail("upload to", key, err);
      }
    },
    async getText(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        return (await out.Body?.transformToString("utf8")) ?? "";
      } catch (err) {
        if (isMissingObject(err)) return null;
        return fail("GET", key, err);
      }
    },
    async download(key, path) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        if (!out.Body) throw new Error("response without a body");
        await pipeline(Readable.fromWeb(out.Body.transformToWebStream() as never), createWriteStream(path, { flags: "wx" }));
        return true;
      } catch (err) {
        if (isMissingObject(err)) return false;
        return fail("download of", key, err);
      }
    },
    async read(key, range) {
      try {
        const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key), Range }));
        if (!out.Body) throw new Error("response without a body");
        const total = /\/(\d+)$/.exec(out.ContentRange ?? "");
        return { size: total ? Number(total[1]) : (out.ContentLength ?? 0), stream: out.Body.transformToWebStream() };
      } catch (err) {
        if (isMissingObject(err)) return null;
        return fail("GET", key, err);
      }
    },
    async *list(under) {
      // ListObjects v1 with a marker, as storage-s3 does: s3rver cannot mint v2 continuation tokens.
      let marker: string | undefined;
      for (let page = 0; page < 1_000_000; page++) {
        let out;
        try {
          out = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: full(under), Marker: marker, MaxKeys: LIST_PAGE }));
        } catch (err) {
          return fail("LIST", under, err);
        }
        const found = out.Contents ?? [];
        for (const o of found) if (o.Key) yield { key: prefix === "" ? o.Key : o.Key.slice(prefix.length + 1), size: o.Size ?? 0 };
        if (!out.IsTruncated || found.length === 0) return;
        marker = found[found.length - 1]!.Key;
      }
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: full(key) }));
      } catch (err) {
        if (!isMissingObject(err)) fail("DELETE", key, err);
      }
    },
  };
}
