import type { BlockMap } from "@atproto/repo";
import type { DbTransaction } from "@/contracts/db";

/** Rows per INSERT: well under SQLite's 32766 bound variables (5 columns a row) and PostgreSQL's 65535. */
const INSERT_BATCH = 500;

/**
 * Store `blocks` of repository `did`, added by commit `rev`. A block already
 * stored (same did and CID) is kept as is: content-addressed, so identical.
 */
export async function putBlocks(tx: DbTransaction, did: string, blocks: BlockMap, rev: string): Promise<void> {
  const rows: { did: string; cid: string; rev: string; size: number; content: Uint8Array }[] = [];
  blocks.forEach((bytes, cid) => {
    rows.push({ did, cid: cid.toString(), rev, size: bytes.length, content: bytes });
  });
  for (let i = 0; i < rows.length; i += INSERT_BATCH) {
    await tx
      .insertInto("repo_block")
      .values(rows.slice(i, i + INSERT_BATCH))
      .onConflict((oc) => oc.columns(["did", "cid"]).doNothing())
      .execute();
  }
}

/** Remove blocks of `did` by CID (blocks a commit made unreachable). */
export async function deleteBlocks(tx: DbTransaction, did: string, cids: readonly string[]): Promise<void> {
  for (let i = 0; i < cids.length; i += INSERT_BATCH) {
    await tx
      .deleteFrom("repo_block")
      .where("did", "=", did)
      .where("cid", "in", cids.slice(i, i + INSERT_BATCH))
      .execute();
  }
}

/** Point repository `did` at commit `cid` (insert or update). */
export async function setRoot(tx: DbTransaction, did: string, cid: string, rev: string): Promise<void> {
  const indexedAt = new Date().toISOString();
  await tx
    .insertInto("repo_root")
    .values({ did, cid, rev, indexed_at: indexedAt })
    .onConflict((oc) => oc.column("did").doUpdateSet({ cid, rev, indexed_at: indexedAt }))
    .execute();
}
