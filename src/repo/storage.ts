import { BlockMap, type CommitData, ReadableBlockstore, type RepoStorage } from "@atproto/repo";
import { CID } from "multiformats/cid";
import type { Db, DbTransaction } from "@/contracts/db";
import { prepared } from "@/db/prepared";
import { inBatches } from "@/util/in-batches";
import { blockEntries, deleteBlocks, putBlocks, setRoot } from "./blocks";

type Cid = Parameters<RepoStorage["getBytes"]>[0];

/**
 * @atproto/repo's block storage over our tables (repo_block, repo_root), for
 * one repository. Read through `db` for reads, through a transaction for the
 * write path. Blocks read once are kept for the life of the instance (one
 * request or one commit): an MST walk touches the same nodes again and again.
 */
export class SqlRepoStorage extends ReadableBlockstore implements RepoStorage {
  /** By CID string: a BlockMap would parse every key again whenever it is merged or iterated. */
  private readonly cache = new Map<string, Uint8Array>();

  constructor(
    private readonly db: Db | DbTransaction,
    readonly did: string,
  ) {
    super();
  }

  async getRoot(): Promise<Cid | null> {
    const root = await this.getRootDetailed();
    return root ? (CID.parse(root.cid) as unknown as Cid) : null;
  }

  /** The current commit's CID (as stored, a string) and rev. */
  async getRootDetailed(): Promise<{ cid: string; rev: string } | null> {
    const [row] = await selectRoot.rows(this.db, { did: this.did });
    return row ? { cid: row.cid, rev: row.rev } : null;
  }

  async getBytes(cid: Cid): Promise<Uint8Array | null> {
    const key = cid.toString();
    const cached = this.cache.get(key);
    if (cached) return cached;
    const [row] = await selectBlock.rows(this.db, { did: this.did, cid: key });
    if (!row) return null;
    const bytes = new Uint8Array(row.content);
    this.cache.set(key, bytes);
    return bytes;
  }

  /** The stored blocks among `cids` (CID strings), by CID string. */
  async readBlocks(cids: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const wanted: string[] = [];
    for (const cid of cids) {
      const cached = this.cache.get(cid);
      if (cached) out.set(cid, cached);
      else wanted.push(cid);
    }
    const found = await inBatches(wanted, (chunk) => selectBlocks.rows(this.db, { did: this.did, cids: chunk }));
    for (const row of found.flat()) {
      const bytes = new Uint8Array(row.content);
      this.cache.set(row.cid, bytes);
      out.set(row.cid, bytes);
    }
    return out;
  }

  async has(cid: Cid): Promise<boolean> {
    return (await this.getBytes(cid)) !== null;
  }

  async getBlocks(cids: Cid[]): Promise<{ blocks: BlockMap; missing: Cid[] }> {
    const blocks = new BlockMap();
    const wanted = new Map<string, Cid>();
    for (const cid of cids) {
      const key = cid.toString();
      const cached = this.cache.get(key);
      if (cached) blocks.set(cid, cached);
      else wanted.set(key, cid);
    }
    const keys = [...wanted.keys()];
    const found = await inBatches(keys, (chunk) => selectBlocks.rows(this.db, { did: this.did, cids: chunk }));
    for (const row of found.flat()) {
      const cid = wanted.get(row.cid);
      if (!cid) continue;
      const bytes = new Uint8Array(row.content);
      this.cache.set(row.cid, bytes);
      blocks.set(cid, bytes);
      wanted.delete(row.cid);
    }
    return { blocks, missing: [...wanted.values()] };
  }

  async putBlock(cid: Cid, block: Uint8Array, rev: string): Promise<void> {
    const one = new BlockMap();
    one.set(cid, block);
    await this.putMany(one, rev);
  }

  async putMany(blocks: BlockMap, rev: string): Promise<void> {
    await putBlocks(this.tx(), this.did, blocks, rev);
    for (const [cid, bytes] of blockEntries(blocks)) this.cache.set(cid, bytes);
  }

  async updateRoot(cid: Cid, rev: string): Promise<void> {
    await setRoot(this.tx(), this.did, cid.toString(), rev);
  }

  /** Store a commit: its new blocks, minus the blocks it made unreachable, and the new root. */
  async applyCommit(commit: CommitData): Promise<void> {
    await this.putMany(commit.newBlocks, commit.rev);
    const removed = commit.removedCids.toList().filter((cid) => !commit.newBlocks.has(cid));
    await deleteBlocks(this.tx(), this.did, removed.map(String));
    for (const cid of removed) this.cache.delete(cid.toString());
    await this.updateRoot(commit.cid, commit.rev);
  }

  /** Store one of our commits: its new blocks, minus the blocks it made unreachable, and the new root. */
  async storeCommit(commit: { cid: CID; rev: string; newBlocks: Map<string, Uint8Array>; removedCids: Set<string> }): Promise<void> {
    const tx = this.tx();
    await putBlocks(tx, this.did, commit.newBlocks, commit.rev);
    const removed = [...commit.removedCids].filter((cid) => !commit.newBlocks.has(cid));
    await deleteBlocks(tx, this.did, removed);
    await setRoot(tx, this.did, commit.cid.toString(), commit.rev);
  }

  /** Writes need the transaction the write path opened; a plain `Db` here is a programming error. */
  private tx(): DbTransaction {
    if (!("isTransaction" in this.db) || !this.db.isTransaction) {
      throw new Error("SqlRepoStorage: writes need a transaction");
    }
    return this.db as DbTransaction;
  }
}

const selectRoot = prepared<{ did: string }, { cid: string; rev: string }>((db, $) =>
  db.selectFrom("repo_root").select(["cid", "rev"]).where("did", "=", $("did")),
);

const selectBlock = prepared<{ did: string; cid: string }, { content: Uint8Array }>((db, $) =>
  db.selectFrom("repo_block").select("content").where("did", "=", $("did")).where("cid", "=", $("cid")),
);

const selectBlocks = prepared<{ did: string; cids: string[] }, { cid: string; content: Uint8Array }>((db, $) =>
  db.selectFrom("repo_block").select(["cid", "content"]).where("did", "=", $("did")).where("cid", "in", $.list("cids")),
);
