import type { DbTransaction } from "@/contracts/db";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import { InvalidRequestError } from "@/errors";
import { assertBlobFits } from "@/lexicon/blob-constraints";
import type { PreparedBlobRef } from "@/repo/types";

/**
 * The blob side of a repository write, run inside the write transaction
 * (repo lock held): records that stop referring to blobs are detached,
 * records that refer to blobs are checked against the uploaded blobs and
 * attached, and a blob that becomes referenced is made permanent.
 */

/** Rows per `IN (...)`. */
const BATCH = 500;

/** Forget the blob references of `uris` (records updated or deleted); returns the blob CIDs they referred to. */
export async function detachBlobs(tx: DbTransaction, did: string, uris: readonly string[]): Promise<string[]> {
  const cids = new Set<string>();
  for (let i = 0; i < uris.length; i += BATCH) {
    const slice = uris.slice(i, i + BATCH);
    const rows = await tx
      .deleteFrom("record_blob")
      .where("did", "=", did)
      .where("record_uri", "in", slice)
      .returning("blob_cid")
      .execute();
    for (const row of rows) cids.add(row.blob_cid);
  }
  return [...cids];
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
  const rows = new Map<string, { mime_type: string; size: number; temp_key: string | null }>();
  for (let i = 0; i < cids.length; i += BATCH) {
    const found = await tx
      .selectFrom("blob")
      .select(["cid", "mime_type", "size", "temp_key"])
      .where("did", "=", did)
      .where("cid", "in", cids.slice(i, i + BATCH))
      .execute();
    for (const row of found) rows.set(row.cid, row);
  }
  for (const { ref, cid } of refs) {
    const row = rows.get(cid);
    if (!row) throw new InvalidRequestError(`${ref.path}: blob ${cid} not found (upload it first)`);
    checkRef(ref, row);
  }
  const links = refs.map(({ uri, cid }) => ({ did, blob_cid: cid, record_uri: uri }));
  for (let i = 0; i < links.length; i += BATCH) {
    await tx
      .insertInto("record_blob")
      .values(links.slice(i, i + BATCH))
      .onConflict((oc) => oc.columns(["did", "blob_cid", "record_uri"]).doNothing())
      .execute();
  }
  for (const cid of cids) {
    const tempKey = rows.get(cid)?.temp_key;
    if (!tempKey) continue;
    // Idempotent in the store: if this transaction rolls back, a retry moves it again or finds it moved.
    await store.makePermanent(tempKey, did, cid);
    await tx.updateTable("blob").set({ temp_key: null }).where("did", "=", did).where("cid", "=", cid).execute();
  }
  return cids;
}

/**
 * Of `cids`, those no record of `did` refers to any more: their rows are
 * deleted (the caller removes the bytes once the transaction has committed).
 */
export async function dropUnreferenced(tx: DbTransaction, did: string, cids: readonly string[]): Promise<string[]> {
  if (cids.length === 0) return [];
  const still = new Set<string>();
  for (let i = 0; i < cids.length; i += BATCH) {
    const rows = await tx
      .selectFrom("record_blob")
      .select("blob_cid")
      .where("did", "=", did)
      .where("blob_cid", "in", cids.slice(i, i + BATCH))
      .execute();
    for (const row of rows) still.add(row.blob_cid);
  }
  const gone = cids.filter((cid) => !still.has(cid));
  for (let i = 0; i < gone.length; i += BATCH) {
    await tx.deleteFrom("blob").where("did", "=", did).where("cid", "in", gone.slice(i, i + BATCH)).execute();
  }
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
