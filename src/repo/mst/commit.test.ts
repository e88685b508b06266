import { describe, expect, test } from "bun:test";
import { Secp256k1Keypair } from "@atproto/crypto";
import { type CommitData, MemoryBlockstore, Repo, type RecordWriteOp, WriteOpAction, verifyCommitSig } from "@atproto/repo";
import { decode } from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import { BlockCache } from "./cache";
import { type BuiltCommit, type MstWrite, buildCommit, readHead } from "./commit";
import type { StoredNode } from "./node";
import { MemoryBlocks, prng, recordBlock, sorted } from "./test-support";

const DID = "did:plc:mstcommittest0000000000";
const COLLECTIONS = ["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow"];

function theirBlocks(commit: CommitData) {
  const newBlocks = new Map<string, Uint8Array>();
  commit.newBlocks.forEach((bytes, cid) => newBlocks.set(cid.toString(), bytes));
  const relevant: string[] = [];
  commit.relevantBlocks.forEach((_bytes, cid) => relevant.push(cid.toString()));
  return { newBlocks, relevant: sorted(relevant), removed: sorted(commit.removedCids.toList().map(String)) };
}

/** Our commit's block sets equal @atproto/repo's for the same writes (same rev, same key, so the same signed commit). */
function expectSame(ours: BuiltCommit, theirs: CommitData): void {
  const t = theirBlocks(theirs);
  expectSameCommit(ours, theirs);
  expect(sorted(ours.newBlocks.keys())).toEqual(sorted(t.newBlocks.keys()));
  for (const [cid, bytes] of ours.newBlocks) expect(Buffer.from(bytes).equals(Buffer.from(t.newBlocks.get(cid)!))).toBe(true);
  expect(sorted(ours.removedCids)).toEqual(t.removed);
  expect(sorted(ours.relevantBlocks.keys())).toEqual(t.relevant);
}

function expectSameCommit(ours: BuiltCommit, theirs: CommitData): void {
  expect(ours.cid.toString()).toBe(theirs.cid.toString());
  expect(ours.rev).toBe(theirs.rev);
  expect(ours.since).toBe(theirs.since);
  expect(ours.prev?.toString() ?? null).toBe(theirs.prev?.toString() ?? null);
}

/**
 * With records sharing content @atproto/repo's record-block bookkeeping depends on its walk order; ours
 * need not match it block for block. What must hold: the same signed commit, a #commit diff holding
 * all of @atproto/repo's (the same MST proof nodes) plus the record of every create and update.
 */
function expectCompatible(ours: BuiltCommit, theirs: CommitData, batch: readonly Op[]): void {
  expectSameCommit(ours, theirs);
  for (const cid of theirBlocks(theirs).relevant) expect(ours.relevantBlocks.has(cid)).toBe(true);
  for (const o of batch) if (o.ours.action !== "delete") expect(ours.relevantBlocks.has(o.ours.cid.toString())).toBe(true);
}

interface Op {
  theirs: RecordWriteOp;
  ours: MstWrite;
}

let serial = 0;
/** When set, records repeat one of this many contents (records with the same content share a CID). */
let sharedContents: number | null = null;
function createOp(key: string): Op {
  const [collection, rkey] = key.split("/") as [string, string];
  const n = sharedContents ? serial++ % sharedContents : serial++;
  const block = recordBlock({ $type: "com.example.same", text: `record ${n}`, createdAt: "2026-01-01T00:00:00.000Z" });
  return {
    theirs: { action: WriteOpAction.Create, collection, rkey, record: block.record } as RecordWriteOp,
    ours: { action: "create", key, cid: block.cid, bytes: block.bytes },
  };
}
function updateOp(key: string): Op {
  const op = createOp(key);
  return { theirs: { ...op.theirs, action: WriteOpAction.Update } as RecordWriteOp, ours: { ...op.ours, action: "update" } as MstWrite };
}
function deleteOp(key: string): Op {
  const [collection, rkey] = key.split("/") as [string, string];
  return { theirs: { action: WriteOpAction.Delete, collection, rkey } as RecordWriteOp, ours: { action: "delete", key } };
}

async function randomRun(seed: number, opts: { ops: number; maxKeys: number; smallCache?: boolean }) {
  const random = prng(seed);
  const keypair = await Secp256k1Keypair.create();
  const storage = new MemoryBlockstore();
  const mine = new MemoryBlocks();
  const cache = new BlockCache<StoredNode>(opts.smallCache ? 50 : 100_000, 1 << 28);

  // First commit: a few creates (none for some seeds).
  const initial = Array.from({ length: Math.floor(random() * 20) }, (_, i) => createOp(`${COLLECTIONS[i % 3]}/init${seed}x${i}`));
  const rev0 = "3kaaaaaaaaa22";
  const theirInit = await Repo.formatInitCommit(storage, DID, keypair, initial.map((o) => o.theirs) as never, rev0);
  const ourInit = await buildCommit(mine.source, DID, null, initial.map((o) => o.ours), keypair, { rev: rev0, cache });
  expectSame(ourInit, theirInit);
  let repo = await Repo.createFromCommit(storage, theirInit);
  mine.apply(ourInit);
  const keys = new Set(initial.map((o) => o.ours.key));
  const values = new Map(initial.map((o) => [o.ours.key, (o.ours as { cid: CID }).cid.toString()]));

  let done = 0;
  let commits = 0;
  let maxSeen = keys.size;
  while (done < opts.ops) {
    const size = 1 + Math.floor(random() ** 2 * 200);
    const batch: Op[] = [];
    const used = new Set<string>();
    const existing = [...keys];
    const growing = keys.size < opts.maxKeys * (commits % 20 < 12 ? 1 : 0.2);
    for (let i = 0; i < size; i++) {
      const r = random();
      if ((growing && r < 0.75) || existing.length === 0 || (!growing && r < 0.15)) {
        const key = `${COLLECTIONS[Math.floor(random() * 3)]}/${Math.floor(random() * 36 ** 8).toString(36)}`;
        if (keys.has(key) || used.has(key)) continue;
        used.add(key);
        batch.push(createOp(key));
      } else {
        const key = existing[Math.floor(random() * existing.length)]!;
        if (used.has(key)) continue;
        used.add(key);
        batch.push(r < (growing ? 0.9 : 0.45) ? updateOp(key) : deleteOp(key));
      }
    }
    // @atproto/repo keeps the layer of a root emptied mid-commit, so a batch that deletes
    // every key and creates others builds a tree of another shape: leave one key in place.
    const deletes = batch.filter((o) => o.ours.action === "delete").length;
    if (deletes === keys.size && batch.some((o) => o.ours.action === "create")) {
      batch.splice(batch.findIndex((o) => o.ours.action === "delete"), 1);
    }
    if (batch.length === 0) continue;

    const theirs = await repo.formatCommit(batch.map((o) => o.theirs), keypair);
    const head = await readHead(mine.source, repo.cid.toString());
    const ours = await buildCommit(mine.source, DID, head, batch.map((o) => o.ours), keypair, { rev: theirs.rev, cache });
    if (sharedContents) expectCompatible(ours, theirs, batch);
    else expectSame(ours, theirs);
    repo = await repo.applyCommit(theirs);
    for (const o of batch) {
      if (o.ours.action === "delete") values.delete(o.ours.key);
      else values.set(o.ours.key, o.ours.cid.toString());
    }
    mine.apply(ours, new Set(values.values()));
    expect(ours.data.toString()).toBe(repo.commit.data.toString());
    if (commits % 10 === 0) {
      const commit = decode(ours.newBlocks.get(ours.cid.toString())!) as never;
      expect(await verifyCommitSig(commit, keypair.did())).toBe(true);
    }
    for (const o of batch) {
      if (o.ours.action === "create") keys.add(o.ours.key);
      else if (o.ours.action === "delete") keys.delete(o.ours.key);
    }
    maxSeen = Math.max(maxSeen, keys.size);
    done += batch.length;
    commits++;
  }
  // Our store holds exactly what the repository reaches: the commit, @atproto/repo's MST nodes, the live records.
  const reachable = new Set<string>([repo.cid.toString(), ...values.values()]);
  for await (const node of repo.data.walk()) if (node.isTree()) reachable.add((await node.getPointer()).toString());
  expect(sorted(mine.blocks.keys())).toEqual(sorted(reachable));
  if (!sharedContents) {
    // And, records all distinct, exactly the blocks @atproto/repo's store holds.
    const theirStored: string[] = [];
    (storage as unknown as { blocks: { forEach(f: (b: Uint8Array, c: CID) => void): void } }).blocks.forEach((_b, c) => theirStored.push(c.toString()));
    expect(sorted(mine.blocks.keys())).toEqual(sorted(theirStored));
  }
  return { commits, done, maxSeen, reads: mine.reads };
}

describe("buildCommit equals @atproto/repo's formatCommit", () => {
  test("an empty first commit", async () => {
    const keypair = await Secp256k1Keypair.create();
    const rev = "3kaaaaaaaaa22";
    const theirs = await Repo.formatInitCommit(new MemoryBlockstore(), DID, keypair, [], rev);
    const ours = await buildCommit(new MemoryBlocks().source, DID, null, [], keypair, { rev });
    expectSame(ours, theirs);
  });

  test("random create/update/delete batches up to 5,000 keys", async () => {
    const run = await randomRun(1, { ops: 9000, maxKeys: 5000 });
    expect(run.maxSeen).toBeGreaterThan(3500);
    expect(run.done).toBeGreaterThanOrEqual(2000);
  }, 300_000);

  test("random batches over small repositories (down to empty and back)", async () => {
    for (const seed of [2, 3, 4]) await randomRun(seed, { ops: 800, maxKeys: 40 });
  }, 300_000);

  test("records sharing content (one CID under many keys)", async () => {
    sharedContents = 3;
    try {
      for (const seed of [6, 7]) await randomRun(seed, { ops: 1500, maxKeys: 300 });
    } finally {
      sharedContents = null;
    }
  }, 300_000);

  test("a node cache much smaller than the tree reads misses from the store", async () => {
    const run = await randomRun(5, { ops: 2500, maxKeys: 1500, smallCache: true });
    expect(run.reads).toBeGreaterThan(0);
  }, 300_000);
});
