/**
 * Sync 1.1 in tests: build #commit inputs from real signed commits with
 * @atproto/repo (what the repo write path must hand the sequencer), and
 * check a received #commit the way an inductive relay does.
 */
import type { Keypair } from "@atproto/crypto";
import { BlockMap, MST, MemoryBlockstore, Repo, type RecordWriteOp, WriteOpAction, blocksToCarFile, readCarWithRoot, verifyCommitSig } from "@atproto/repo";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import type { CommitEventInput, RepoOpInput } from "@/sequencer/types";

/** A repository in memory that turns writes into sequencer inputs. */
export class TestRepo {
  private constructor(
    private repo: Repo,
    private readonly keypair: Keypair,
    readonly did: string,
  ) {}

  static async create(did: string, keypair: Keypair): Promise<TestRepo> {
    return new TestRepo(await Repo.create(new MemoryBlockstore(), did, keypair), keypair, did);
  }

  /** Apply `writes` as one signed commit; returns the #commit input for it. */
  async commit(writes: RecordWriteOp[]): Promise<CommitEventInput> {
    const before = this.repo;
    const data = await before.formatCommit(writes, this.keypair);
    const after = await before.applyCommit(data);
    const ops: RepoOpInput[] = [];
    for (const write of writes) {
      const path = `${write.collection}/${write.rkey}`;
      const prev = await before.data.get(path);
      const cid = await after.data.get(path);
      if (write.action === WriteOpAction.Create) ops.push({ action: "create", path, cid: cid! });
      else if (write.action === WriteOpAction.Update) ops.push({ action: "update", path, cid: cid!, prev: prev! });
      else ops.push({ action: "delete", path, cid: null, prev: prev! });
    }
    // The diff: new blocks plus the proof path (MST nodes needed to invert the ops).
    const blocks = new BlockMap();
    blocks.addMap(data.newBlocks);
    blocks.addMap(data.relevantBlocks);
    this.repo = after;
    return {
      repo: this.did,
      commit: data.cid,
      rev: data.rev,
      since: data.since,
      blocks: await blocksToCarFile(data.cid, blocks),
      ops,
      prevData: before.commit.data,
    };
  }
}

/**
 * What an inductive consumer checks on a #commit body (decoded frame): the
 * CAR's root is the commit, its signature verifies with `didKey`, the ops
 * match the new tree, and undoing them on the tree gives `prevData`.
 */
export async function verifySync11Commit(body: Record<string, unknown>, didKey: string): Promise<{ data: string; rev: string }> {
  const car = await readCarWithRoot(body.blocks as Uint8Array);
  if (car.root.toString() !== String(body.commit)) throw new Error("CAR root is not the commit");
  const commitBytes = car.blocks.get(car.root);
  if (!commitBytes) throw new Error("commit block missing");
  const commit = dagCbor.decode<{ did: string; rev: string; data: CID; version: number; prev: null; sig: Uint8Array }>(commitBytes);
  if (commit.did !== body.repo || commit.rev !== body.rev) throw new Error("commit did/rev differ from the event");
  // Types only: @atproto/repo declares its own CID interface; the decoded multiformats CIDs behave the same.
  if (!(await verifyCommitSig(commit as unknown as Parameters<typeof verifyCommitSig>[0], didKey))) throw new Error("bad commit signature");
  let tree = MST.load(new MemoryBlockstore(car.blocks), commit.data);
  for (const op of body.ops as { action: string; path: string; cid: CID | null; prev?: CID }[]) {
    const current = await tree.get(op.path);
    if (String(current ?? null) !== String(op.cid)) throw new Error(`op ${op.path}: tree has ${current}, op says ${op.cid}`);
    if (op.action === "create") tree = await tree.delete(op.path);
    else if (op.action === "update") tree = await tree.update(op.path, op.prev!);
    else tree = await tree.add(op.path, op.prev!);
  }
  const previous = await tree.getPointer();
  if (body.prevData !== undefined && previous.toString() !== String(body.prevData)) {
    throw new Error(`inverted tree ${previous} is not prevData ${body.prevData}`);
  }
  return { data: commit.data.toString(), rev: commit.rev };
}
