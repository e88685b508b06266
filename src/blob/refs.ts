import type { DbTransaction } from "@/contracts/db";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import { InvalidRequestError } from "@/errors";
import { prepared } from "@/db/prepared";
import { assertBlobFits } from "@/lexicon/blob-constraints";
import type { PreparedBlobRef } from "@/repo/types";
import { inBatches } from "@/util/in-batches";

/**
 * The blob side of a repository write, run inside the write transaction
 * (repo lock held): records that stop referring to blobs are detached,
 * records that refer to blobs are checked against the uploaded blobs and
 * attached, and a blob that becomes referenced is made permanent.
 */

/** Forget the blob references of `uris` (records updated or deleted); returns the blob CIDs they referred to. */
export async function detachBlobs(tx: DbTransaction, did: string, uris: readonly string[]): Promise<string[]> {
  const rows = await inBatches(uris, (chunk) => detachRefs.rows(tx, { did, uris: chunk }));
  return [...new Set(rows.flat().map((row) => row.blob_cid))];
}

/**
 * Check and record the blobs the written records refer to: each must have
 * been uploaded by `did`, with the declared MIME type and size, within the
 * lexicon's accept/maxSize. Throws 400 InvalidRequest naming the field.
 * Temporary blobs are moved to permanent storage. Returns the CIDs referenced.
 */
export async function attachBlobs(
  tx: DbTransaction,
  store: BlobStorePlugin,
  did: string,
  writes: readonly { uri: string; blobs: readonly PreparedBlobRef[] }[],
): Promise<string[]> {
  const refs = writes.flatMap((w) => w.blobs.map((ref) => ({ uri: w.uri, ref, cid: ref.cid.toString() })));
  if (refs.length === 0) return [];
  const cids = [...new Set(refs.map((r) => r.cid))];
  const found = await inBatches(cids, (chunk) => selectBlobs.rows(tx, { did, cids: chunk }));
  const rows = new Map(found.flat().map((row) => [row.cid, row]));
  for (const { ref, cid } of refs) {
    const row = rows.get(cid);
    if (!row) throw new InvalidRequestError(`${ref.path}: blob ${cid} not found (upload it first)`);
    checkRef(ref, row);
  }
  await linkBlobs(tx, store, did, refs, [...rows.values()]);
  return cids;
}

/**
 * Record that records refer to blobs, and make permanent those of `stored` (the referenced blobs'
 * rows) still in temporary storage. An imported repository's references are linked the same way,
 * before most of its blobs are uploaded: uploadBlob makes those permanent when they arrive.
 */
export async function linkBlobs(
  tx: DbTransaction,
  store: BlobStorePlugin,
  did: string,
  refs: readonly { uri: string; cid: string }[],
  stored: readonly { cid: string; temp_key: string | null }[],
): Promise<void> {
  const links = refs.map(({ uri, cid }) => ({ did, blob_cid: cid, record_uri: uri }));
  await inBatches(links, (chunk) => insertRefs.execute(tx, { links: chunk }));
  for (const { cid, temp_key: tempKey } of stored) {
    if (!tempKey) continue;
    // Idempotent in the store: if this transaction rolls back, a retry moves it again or finds it moved.
    await store.makePermanent(tempKey, did, cid);
    await markPermanent.execute(tx, { did, cid });
  }
}

/**
 * Of `cids`, those no record of `did` refers to any more: their rows are
 * deleted (the caller removes the bytes once the transaction has committed).
 */
export async function dropUnreferenced(tx: DbTransaction, did: string, cids: readonly string[]): Promise<string[]> {
  if (cids.length === 0) return [];
  const rows = await inBatches(cids, (chunk) => selectReferenced.rows(tx, { did, cids: chunk }));
  const still = new Set(rows.flat().map((row) => row.blob_cid));
  const gone = cids.filter((cid) => !still.has(cid));
  await inBatches(gone, (chunk) => deleteBlobRows.execute(tx, { did, cids: chunk }));
  return gone;
}

function checkRef(ref: PreparedBlobRef, row: { mime_type: string; size: number }): void {
  if (ref.mimeType !== row.mime_type) {
    throw new InvalidRequestError(`${ref.path}/mimeType: ${ref.mimeType} does not match the uploaded blob (${row.mime_type})`);
  }
  if (ref.size !== Number(row.size)) {
    throw new InvalidRequestError(`${ref.path}/size: ${ref.size} does not match the uploaded blob (${row.size} bytes)`);
  }
  assertBlobFits(ref.path, row.mime_type, Number(row.size), ref.constraints);
}

const detachRefs = prepared<{ did: string; uris: string[] }, { blob_cid: string }>((db, $) =>
  db.deleteFrom("record_blob").where("did", "=", $("did")).where("record_uri", "in", $.list("uris")).returning("blob_cid"),
);

const selectBlobs = prepared<{ did: string; cids: string[] }, { cid: string; mime_type: string; size: number; temp_key: string | null }>((db, $) =>
  db.selectFrom("blob").select(["cid", "mime_type", "size", "temp_key"]).where("did", "=", $("did")).where("cid", "in", $.list("cids")),
);

const insertRefs = prepared<{ links: { did: string; blob_cid: string; record_uri: string }[] }, never>((db, $) =>
  db
    .insertInto("record_blob")
    .values($.rows("links", ["did", "blob_cid", "record_uri"] as const))
    .onConflict((oc) => oc.columns(["did", "blob_cid", "record_uri"]).doNothing()),
);

const markPermanent = prepared<{ did: string; cid: string }, never>((db, $) =>
  db.updateTable("blob").set({ temp_key: null }).where("did", "=", $("did")).where("cid", "=", $("cid")),
);

const selectReferenced = prepared<{ did: string; cids: string[] }, { blob_cid: string }>((db, $) =>
  db.selectFrom("record_blob").select("blob_cid").where("did", "=", $("did")).where("blob_cid", "in", $.list("cids")),
);

const deleteBlobRows = prepared<{ did: string; cids: string[] }, never>((db, $) =>
  db.deleteFrom("blob").where("did", "=", $("did")).where("cid", "in", $.list("cids")),
);
