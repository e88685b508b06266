import { CID } from "multiformats/cid";
import type { Registry } from "prom-client";
import { type BlobStorePlugin, BlobNotFoundError, tempKeyTime } from "@/contracts/blob-store";
import type { DatabasePlugin } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import type { Logger } from "@/log";
import { createBlobMetrics, type BlobMetrics } from "./metrics";
import { declaredMime, sniffMime } from "./sniff";
import { BlobTooLargeError, measuredSource } from "./upload";

/** A blob reference as uploadBlob returns it (JSON form). */
export interface BlobRefJson {
  $type: "blob";
  ref: { $link: string };
  mimeType: string;
  size: number;
}

export interface BlobServiceOptions {
  /** Largest upload in bytes (PDS_BLOB_UPLOAD_LIMIT). */
  uploadLimit: number;
  log: Logger;
  registry: Registry;
}

/** Listing page sizes of listBlobs. */
export const LIST_BLOBS_DEFAULT = 500;
export const LIST_BLOBS_MAX = 1000;

/**
 * Blobs over the blob slot and the `blob` / `record_blob` tables: uploads
 * (streamed to a temporary key, hashed, size-limited, MIME-sniffed), reads,
 * listings, and the clean-up of blobs nobody refers to. The write path uses
 * src/blob/refs.ts inside its transaction.
 */
export class BlobService {
  readonly metrics: BlobMetrics;

  constructor(
    readonly db: DatabasePlugin,
    readonly store: BlobStorePlugin,
    private readonly options: BlobServiceOptions,
  ) {
    this.metrics = createBlobMetrics(db, store.name, options.registry);
  }

  get uploadLimit(): number {
    return this.options.uploadLimit;
  }

  /** Stream `body` into a temporary blob of `did`; it becomes permanent when a committed record refers to it. */
  async upload(
    did: string,
    body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | null,
    contentType: string | null,
    contentLength?: number,
  ): Promise<BlobRefJson> {
    const limit = this.options.uploadLimit;
    if (contentLength !== undefined && contentLength > limit) throw new BlobTooLargeError(limit);
    const measured = measuredSource(body ?? emptyBody(), limit);
    const { key } = await this.store.putTemp(measured.source);
    const { cid, size, head } = measured.result();
    const mimeType = (await sniffMime(head)) ?? declaredMime(contentType) ?? "application/octet-stream";
    const createdAt = new Date(tempKeyTime(key) ?? Date.now()).toISOString();

    // Under the repo lock: a commit or sweep of this DID never sees the row change under it.
    const { unusedKey, storedBytes } = await this.db.withRepoLock(did, async (tx) => {
      const existing = await tx
        .selectFrom("blob")
        .select("temp_key")
        .where("did", "=", did)
        .where("cid", "=", cid.toString())
        .executeTakeFirst();
      // Already permanent: the new copy is not needed.
      if (existing && existing.temp_key === null) return { unusedKey: key, storedBytes: 0 };
      // A blob an imported record already refers to (an account moving here) is permanent at once.
      const referenced = await tx
        .selectFrom("record_blob")
        .select("blob_cid")
        .where("did", "=", did)
        .where("blob_cid", "=", cid.toString())
        .executeTakeFirst();
      if (referenced) await this.store.makePermanent(key, did, cid.toString());
      const tempKey = referenced ? null : key;
      if (!existing) {
        await tx
          .insertInto("blob")
          .values({ did, cid: cid.toString(), mime_type: mimeType, size, temp_key: tempKey, width: null, height: null, created_at: createdAt, takedown_ref: null })
          .execute();
        return { unusedKey: null, storedBytes: size };
      }
      // Still temporary: the fresh copy replaces the old one, so the upload's hour starts again.
      await tx
        .updateTable("blob")
        .set({ temp_key: tempKey, created_at: createdAt, mime_type: mimeType })
        .where("did", "=", did)
        .where("cid", "=", cid.toString())
        .execute();
      return { unusedKey: existing.temp_key, storedBytes: 0 };
    });
    if (unusedKey) await this.store.deleteTemp(unusedKey).catch((err) => this.options.log.warn("temp blob delete failed", { err }));
    this.metrics.uploaded(storedBytes);
    return { $type: "blob", ref: { $link: cid.toString() }, mimeType, size };
  }

  /**
   * Blobs `did`'s records refer to that are not stored yet (after importRepo), in CID order, each with
   * one record referring to it.
   */
  async listMissing(did: string, opts: { cursor?: string; limit: number }): Promise<{ blobs: { cid: string; recordUri: string }[]; cursor?: string }> {
    let query = this.db
      .db()
      .selectFrom("record_blob")
      .leftJoin("blob", (join) =>
        join.onRef("blob.did", "=", "record_blob.did").onRef("blob.cid", "=", "record_blob.blob_cid").on("blob.temp_key", "is", null),
      )
      .select(["record_blob.blob_cid as cid", (eb) => eb.fn.min("record_blob.record_uri").as("recordUri")])
      .where("record_blob.did", "=", did)
      .where("blob.cid", "is", null)
      .groupBy("record_blob.blob_cid")
      .orderBy("record_blob.blob_cid")
      .limit(opts.limit);
    if (opts.cursor) query = query.where("record_blob.blob_cid", ">", opts.cursor);
    const blobs = (await query.execute()).map((r) => ({ cid: r.cid, recordUri: String(r.recordUri) }));
    return { blobs, cursor: blobs.length === opts.limit ? blobs.at(-1)?.cid : undefined };
  }

  /** A committed, servable blob of `did`: its type, size and bytes. Throws 400 BlobNotFound otherwise. */
  async read(did: string, cid: string): Promise<{ mimeType: string; size: number; stream: ReadableStream<Uint8Array> }> {
    const normalised = parseCid(cid, "cid");
    const row = await this.db
      .db()
      .selectFrom("blob")
      .select(["mime_type", "size"])
      .where("did", "=", did)
      .where("cid", "=", normalised)
      .where("temp_key", "is", null)
      .where("takedown_ref", "is", null)
      .executeTakeFirst();
    if (!row) throw new BlobNotFoundError(normalised);
    const read = await this.store.get(did, normalised);
    return { mimeType: row.mime_type, size: read.size, stream: read.stream };
  }

  /** CIDs of the blobs `did`'s records refer to, in CID order; `since` keeps those of records written after that rev. */
  async list(did: string, opts: { since?: string; cursor?: string; limit?: number }): Promise<{ cids: string[]; cursor?: string }> {
    const limit = Math.min(Math.max(opts.limit ?? LIST_BLOBS_DEFAULT, 1), LIST_BLOBS_MAX);
    let query = this.db
      .db()
      .selectFrom("record_blob")
      .innerJoin("record", "record.uri", "record_blob.record_uri")
      .select("record_blob.blob_cid")
      .distinct()
      .where("record_blob.did", "=", did)
      .orderBy("record_blob.blob_cid")
      .limit(limit);
    if (opts.since) query = query.where("record.rev", ">", opts.since);
    if (opts.cursor) query = query.where("record_blob.blob_cid", ">", opts.cursor);
    const cids = (await query.execute()).map((r) => r.blob_cid);
    return { cids, cursor: cids.length === limit ? cids.at(-1) : undefined };
  }

  /**
   * After a commit that dropped references: remove the bytes of blobs that
   * still have no row. Under the repo lock, so a concurrent re-upload of the
   * same blob (which creates a row again) is never deleted.
   */
  async deleteUnreferenced(did: string, cids: readonly string[]): Promise<void> {
    if (cids.length === 0) return;
    await this.db.withRepoLock(did, async (tx) => {
      const back = await tx.selectFrom("blob").select("cid").where("did", "=", did).where("cid", "in", [...cids]).execute();
      const revived = new Set(back.map((r) => r.cid));
      const gone = cids.filter((cid) => !revived.has(cid));
      if (gone.length > 0) await this.store.delete(did, gone);
    });
  }
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** A CID parameter in its canonical string form; 400 InvalidRequest when it is not one. */
export function parseCid(value: string, field: string): string {
  try {
    return CID.parse(value).toString();
  } catch {
    throw new InvalidRequestError(`Invalid ${field}: not a CID`);
  }
}
