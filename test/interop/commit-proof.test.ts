/**
 * Firehose commit-proof vectors: an MST kept in Aurora's block storage
 * (SqlRepoStorage over the repo_block table) reaches the expected roots, and
 * the blocks a commit event carries — the commit's new MST blocks plus the
 * covering proof of every op, what CommitDetails hands the sequencer — hold
 * every block the vector says a consumer needs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BlockMap, DataDiff, MST } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { SqlRepoStorage } from "@/repo/storage";
import { type TestContext, testContext } from "@test/support/context";
import { interopJson } from "./vectors";

interface Fixture {
  comment: string;
  leafValue: string;
  keys: string[];
  adds: string[];
  dels: string[];
  rootBeforeCommit: string;
  rootAfterCommit: string;
  blocksInProof: string[];
}

type Cid = Parameters<MST["add"]>[1];
const asCid = (s: string) => CID.parse(s) as unknown as Cid;

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext();
});
afterAll(() => ctx.close());

describe("firehose commit-proof vectors", () => {
  const fixtures = interopJson<Fixture[]>("firehose/commit-proof-fixtures.json");
  test.each(fixtures.map((f, i) => [f.comment, i, f]))("%s", async (_comment, i, f) => {
    const did = `did:plc:proof${String(i).padStart(19, "a")}`;
    const leaf = asCid(f.leafValue);
    await ctx.db.transaction(async (tx) => {
      const storage = new SqlRepoStorage(tx, did);
      let before = await MST.create(storage);
      for (const key of f.keys) before = await before.add(key, leaf);
      expect((await before.getPointer()).toString()).toBe(f.rootBeforeCommit);
      await storage.putMany((await before.getUnstoredBlocks()).blocks, "3kaaaaaaaaaa2");

      // Reload from the table so the commit below reads every old node through our storage.
      const stored = MST.load(new SqlRepoStorage(tx, did), asCid(f.rootBeforeCommit));
      let after = stored;
      for (const key of f.adds) after = await after.add(key, leaf);
      for (const key of f.dels) after = await after.delete(key);
      expect((await after.getPointer()).toString()).toBe(f.rootAfterCommit);

      const carried = new BlockMap();
      carried.addMap((await DataDiff.of(after, stored)).newMstBlocks);
      for (const key of [...f.adds, ...f.dels]) carried.addMap(await after.getCoveringProof(key));
      const missing = f.blocksInProof.filter((cid) => !carried.has(asCid(cid)));
      expect(missing).toEqual([]);
    });
  });
});
