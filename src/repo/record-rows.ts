import { sql } from "kysely";
import type { Db, DbTransaction } from "@/contracts/db";
import type { RecordTable } from "@/db/schema";
import { prepared } from "@/db/prepared";
import { SQL_BATCH, inBatches } from "@/util/in-batches";
import type { PreparedCreate, PreparedUpdate, PreparedWrite } from "./types";

/** The current CID of each of `uris` that exists. */
export async function currentRecordCids(tx: Db | DbTransaction, uris: readonly string[]): Promise<Map<string, string>> {
  const rows = await inBatches(uris, (chunk) => selectRecordCids.rows(tx, { uris: chunk }));
  return new Map(rows.flat().map((row) => [row.uri, row.cid]));
}

/**
 * What a commit starts from, in one statement: the root of `did` (its commit
 * CID and rev, null when the repository does not exist), the account's sealed
 * signing key (null without an account row) and the current CID of each of
 * `uris` that exists.
 */
export async function readWriteState(
  tx: DbTransaction,
  did: string,
  uris: readonly string[],
): Promise<{ root: { cid: string; rev: string } | null; sealedKey: Uint8Array | null; current: Map<string, string> }> {
  const first = uris.slice(0, SQL_BATCH);
  const rows = first.length > 0 ? await selectRootAndRecords.rows(tx, { did, uris: first }) : await selectRootOnly.rows(tx, { did });
  let root: { cid: string; rev: string } | null = null;
  let sealedKey: Uint8Array | null = null;
  const current = new Map<string, string>();
  for (const row of rows) {
    if (row.uri === null) {
      root = { cid: row.cid, rev: row.rev! };
      sealedKey = row.signing_key;
    } else current.set(row.uri, row.cid);
  }
  if (uris.length > first.length) for (const [uri, cid] of await currentRecordCids(tx, uris.slice(first.length))) current.set(uri, cid);
  return { root, sealedKey, current };
}

/** The record row a create writes. */
export function recordRow(w: PreparedCreate | PreparedUpdate, did: string, rev: string, indexedAt: string): RecordTable {
  return { uri: w.uri, cid: w.cid.toString(), did, collection: w.collection, rkey: w.rkey, rev, indexed_at: indexedAt, takedown_ref: null };
}

export const RECORD_COLUMNS = ["uri", "cid", "did", "collection", "rkey", "rev", "indexed_at", "takedown_ref"] as const;

/** Apply `writes` (already resolved to what really happens) to the record table. */
export async function writeRecordRows(tx: DbTransaction, did: string, rev: string, writes: readonly PreparedWrite[]): Promise<void> {
  const indexedAt = new Date().toISOString();
  const creates = writes.flatMap((w) => (w.action === "create" ? [recordRow(w, did, rev, indexedAt)] : []));
  await inBatches(creates, (chunk) => insertRecords.execute(tx, { records: chunk }));
  for (const w of writes) {
    if (w.action !== "update") continue;
    await updateRecord.execute(tx, { uri: w.uri, cid: w.cid.toString(), rev, indexedAt });
  }
  const deletes = writes.filter((w) => w.action === "delete").map((w) => w.uri);
  await inBatches(deletes, (chunk) => deleteRecords.execute(tx, { uris: chunk }));
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
  const rows = await inBatches(removedRecords, (chunk) => selectLiveCids.rows(tx, { did, cids: chunk }));
  for (const row of rows.flat()) removedCids.delete(row.cid);
}

const selectRecordCids = prepared<{ uris: string[] }, { uri: string; cid: string }>((db, $) =>
  db.selectFrom("record").select(["uri", "cid"]).where("uri", "in", $.list("uris")),
);

type StateRow = { uri: string | null; cid: string; rev: string | null; signing_key: Uint8Array | null };

/** The root row (uri null) with the account's sealed key, and the record rows, as one UNION ALL. */
const selectRootAndRecords = prepared<{ did: string; uris: string[] }, StateRow>((db, $) =>
  rootWithKey(db, $("did")).unionAll(
    db
      .selectFrom("record")
      .select([sql<string | null>`uri`.as("uri"), "cid", sql<string | null>`null`.as("rev"), sql<Uint8Array | null>`null`.as("signing_key")])
      .where("uri", "in", $.list("uris")),
  ),
);

const selectRootOnly = prepared<{ did: string }, StateRow>((db, $) => rootWithKey(db, $("did")));

function rootWithKey(db: Db, did: string) {
  return db
    .selectFrom("repo_root")
    .leftJoin("account", "account.did", "repo_root.did")
    .select([sql<string | null>`null`.as("uri"), "repo_root.cid", sql<string | null>`repo_root.rev`.as("rev"), "account.signing_key"])
    .where("repo_root.did", "=", did);
}

const insertRecords = prepared<{ records: RecordTable[] }, never>((db, $) => db.insertInto("record").values($.rows("records", RECORD_COLUMNS)));

const updateRecord = prepared<{ uri: string; cid: string; rev: string; indexedAt: string }, never>((db, $) =>
  db.updateTable("record").set({ cid: $("cid"), rev: $("rev"), indexed_at: $("indexedAt") }).where("uri", "=", $("uri")),
);

const deleteRecords = prepared<{ uris: string[] }, never>((db, $) => db.deleteFrom("record").where("uri", "in", $.list("uris")));

const selectLiveCids = prepared<{ did: string; cids: string[] }, { cid: string }>((db, $) =>
  db.selectFrom("record").select("cid").where("did", "=", $("did")).where("cid", "in", $.list("cids")),
);
