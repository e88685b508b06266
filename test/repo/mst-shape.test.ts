/**
 * canonicalMstRoot against @atproto/repo's own MST, built one add at a time:
 * the same root for the empty tree, one key, and enough keys (in any order)
 * to span several layers and empty intermediate nodes.
 */
import { describe, expect, test } from "bun:test";
import { TID } from "@atproto/common-web";
import { MST, MemoryBlockstore, mstUtil } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { canonicalMstRoot } from "@/repo/mst-shape";

const value = CID.parse("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm");

async function libraryRoot(keys: string[]): Promise<string> {
  let mst = await MST.create(new MemoryBlockstore());
  for (const key of keys) mst = await mst.add(key, value as never);
  return (await mst.getPointer()).toString();
}

describe("canonicalMstRoot", () => {
  for (const size of [0, 1, 2, 50, 3000]) {
    test(`${size} keys`, async () => {
      const keys = Array.from({ length: size }, (_, i) => `${i % 3 ? "app.bsky.feed.post" : "app.bsky.feed.like"}/${TID.nextStr()}`);
      const shuffled = [...keys].sort(() => Math.random() - 0.5);
      const root = await canonicalMstRoot(shuffled.map((key) => ({ key, cid: value })));
      expect(root.toString()).toBe(await libraryRoot(keys));
      if (size === 3000) expect(Math.max(...(await Promise.all(keys.map((k) => mstUtil.leadingZerosOnHash(k)))))).toBeGreaterThanOrEqual(2);
    });
  }
});
