import type { Db, DbTransaction } from "@/contracts/db";
import { inBatches } from "@/util/in-batches";
import type { PreparedWrite } from "./types";

/** The current CID of each of `uris` that exists. */
export async function currentRecordCids(tx: Db | DbTransaction, uris: readonly string[]): Promise<Map<string, string>> {
  const rows = await inBatches(uris, (chunk) => tx.selectFrom("record").select(["uri", "cid"]).where("uri", "in", chunk).execute());
  return new Map(rows.flat().map((row) => [row.uri, row.cid]));
}

/** Apply `writes` (already resolved to what really happens) to the record table. */
export async function writeRecordRows(tx: DbTransaction, did: string, rev: string, writes: readonly PreparedWrite[]): Promise<void> {
  const indexedAt = new Date().toISOString();
  const creates = writes.filter((w) => w.action === "create");
  await inBatches(creates, (chunk) =>
    tx
      .insertInto("record")
      .values(
        chunk.map((w) => ({
          uri: w.uri,
          cid: w.cid.toString(),
          did,
          collection: w.collection,
          rkey: w.rkey,
          rev,
          indexed_at: indexedAt,
          takedown_ref: null,
        })),
      )
      .execute(),
  );
  for (const w of writes) {
    if (w.action !== "update") continue;
    await tx.updateTable("record").set({ cid: w.cid.toString(), rev, indexed_at: indexedAt }).where("uri", "=", w.uri).execute();
  }
  const deletes = writes.filter((w) => w.action === "delete").map((w) => w.uri);
  await inBatches(deletes, (chunk) => tx.deleteFrom("record").where("uri", "in", chunk).execute());
}

/**
 * Two records with identical content share one block. The MST diff counts a
 * deleted or replaced record's block as removed; keep it while a live record
 * of `did` still has that CID (call after the record rows are written):
 * `removedRecords`, the record CIDs among `removedCids`, leave that set when so.
 */
export async function keepSharedRecordBlocks(
  tx: DbTransaction,
  did: string,
  removedRecords: readonly string[],
  removedCids: Set<string>,
): Promise<void> {
  const rows = await inBatches(removedRecords, (chunk) =>
    tx.selectFrom("record").select("cid").where("did", "=", did).where("cid", "in", chunk).execute(),
  );
  for (const row of rows.flat()) removedCids.delete(row.cid);
}
