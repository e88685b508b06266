import { PostgresAdapter, sql } from "kysely";
import type { DbTransaction } from "@/contracts/db";
import type { RecordTable } from "@/db/schema";
import { prepared } from "@/db/prepared";
import { SQL_BATCH } from "@/util/in-batches";
import type { BuiltCommit } from "./mst/commit";
import { BLOCK_COLUMNS, type BlockRow, blockRows } from "./blocks";
import { RECORD_COLUMNS, keepSharedRecordBlocks, recordRow, writeRecordRows } from "./record-rows";
import type { SqlRepoStorage } from "./storage";
import type { PreparedWrite } from "./types";

/** What storing a commit needs of it. */
type StoredCommit = Pick<BuiltCommit, "cid" | "rev" | "newBlocks" | "removedCids" | "removedRecords">;

/**
 * Store commit `commit` applying `writes` (resolved): the record rows, its
 * new blocks, the removal of the blocks it made unreachable — keeping a
 * record block another live record of the repository still uses, and taking
 * it out of `commit.removedCids` — and the new root. On PostgreSQL one
 * statement (one round trip) when every list fits a batch; on SQLite, and for
 * larger commits, one prepared statement per step.
 */
export async function storeCommitRows(
  tx: DbTransaction,
  storage: SqlRepoStorage,
  writes: readonly PreparedWrite[],
  commit: StoredCommit,
): Promise<void> {
  if (tx.getExecutor().adapter instanceof PostgresAdapter && (await storeInOneStatement(tx, storage.did, writes, commit))) return;
  await writeRecordRows(tx, storage.did, commit.rev, writes);
  await keepSharedRecordBlocks(tx, storage.did, commit.removedRecords, commit.removedCids);
  await storage.storeCommit(commit);
}

type OneStatement = {
  did: string;
  rev: string;
  indexedAt: string;
  root: string;
  creates: RecordTable[];
  updates: { uri: string; cid: string }[];
  deletes: string[];
  blocks: BlockRow[];
  removed: string[];
  /** URIs whose current rows this commit replaces or deletes: the statement's snapshot still has them. */
  changed: string[];
};

/** PostgreSQL: false (nothing written) when a list is longer than a batch. */
async function storeInOneStatement(tx: DbTransaction, did: string, writes: readonly PreparedWrite[], commit: StoredCommit): Promise<boolean> {
  const indexedAt = new Date().toISOString();
  const args: OneStatement = { did, rev: commit.rev, indexedAt, root: commit.cid.toString(), creates: [], updates: [], deletes: [], blocks: [], removed: [], changed: [] };
  const written = new Set<string>();
  for (const w of writes) {
    if (w.action === "create") args.creates.push(recordRow(w, did, commit.rev, indexedAt));
    else if (w.action === "update") args.updates.push({ uri: w.uri, cid: w.cid.toString() });
    else args.deletes.push(w.uri);
    if (w.action !== "create") args.changed.push(w.uri);
    if (w.action !== "delete") written.add(w.cid.toString());
  }
  // A removed record block that this commit writes a record with again stays (it is live afterwards).
  for (const cid of commit.removedRecords) if (written.has(cid)) commit.removedCids.delete(cid);
  for (const cid of commit.removedCids) if (!commit.newBlocks.has(cid)) args.removed.push(cid);
  args.blocks = blockRows(did, commit.newBlocks, commit.rev);
  if (args.creates.length > SQL_BATCH || args.updates.length > SQL_BATCH || args.deletes.length > SQL_BATCH) return false;
  if (args.blocks.length > SQL_BATCH || args.removed.length > SQL_BATCH) return false;
  const { rows } = await storeCommitPg.execute(tx, args);
  if (commit.removedRecords.length > 0) {
    const deleted = new Set(rows.map((row) => row.cid));
    for (const cid of commit.removedRecords) if (!deleted.has(cid)) commit.removedCids.delete(cid);
  }
  return true;
}

/**
 * One statement of data-modifying CTEs. They all read the snapshot from
 * before the statement, so the check that a removed block is no live
 * record's leaves out the rows this commit updates or deletes, and the
 * records it writes are taken out of the removed list beforehand. Returns
 * the CIDs of the blocks deleted. Which CTEs there are depends only on
 * which lists are empty, part of the shape `prepared` compiles by.
 */
const storeCommitPg = prepared<OneStatement, { cid: string }>((db, $) => {
  // The CTE names and bodies vary with the shape; Kysely's types follow one fixed chain.
  let q = db as any;
  const creates = $.rows("creates", RECORD_COLUMNS);
  if (creates.length > 0) q = q.with("record_insert", (d: any) => d.insertInto("record").values(creates));
  const updates = $.rows("updates", ["uri", "cid"] as const);
  if (updates.length > 0) {
    const values = sql.join(updates.map((u) => sql`(${u.uri}, ${u.cid})`));
    q = q.with(
      "record_update",
      () => sql`(update record set cid = v.cid, rev = ${$("rev")}, indexed_at = ${$("indexedAt")} from (values ${values}) as v (uri, cid) where record.uri = v.uri)`,
    );
  }
  const deletes = $.list("deletes");
  if (deletes.length > 0) q = q.with("record_delete", (d: any) => d.deleteFrom("record").where("uri", "in", deletes));
  const blocks = $.rows("blocks", BLOCK_COLUMNS);
  if (blocks.length > 0) {
    q = q.with("block_insert", (d: any) => d.insertInto("repo_block").values(blocks).onConflict((oc: any) => oc.columns(["did", "cid"]).doNothing()));
  }
  const removed = $.list("removed");
  const changed = $.list("changed");
  if (removed.length > 0) {
    q = q.with("block_delete", (d: any) =>
      d
        .deleteFrom("repo_block")
        .where("did", "=", $("did"))
        .where("cid", "in", removed)
        .where((eb: any) => {
          let live = eb.selectFrom("record").select(sql.lit(1).as("one")).where("record.did", "=", $("did")).whereRef("record.cid", "=", "repo_block.cid");
          if (changed.length > 0) live = live.where("record.uri", "not in", changed);
          return eb.not(eb.exists(live));
        })
        .returning("cid"),
    );
  }
  const root = (d: any) =>
    d
      .insertInto("repo_root")
      .values({ did: $("did"), cid: $("root"), rev: $("rev"), indexed_at: $("indexedAt") })
      .onConflict((oc: any) =>
        oc.column("did").doUpdateSet((eb: any) => ({ cid: eb.ref("excluded.cid"), rev: eb.ref("excluded.rev"), indexed_at: eb.ref("excluded.indexed_at") })),
      );
  if (removed.length === 0) return root(q);
  return q.with("root_upsert", root).selectFrom("block_delete").select("cid");
});
