import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MST, MemoryBlockstore } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { BlockCache } from "./cache";
import { commonPrefixLength, encodeNode, keyLayer } from "./node";
import { MemoryBlocks, prng } from "./test-support";
import { MstEdit } from "./tree";
import type { StoredNode } from "./node";

const dir = join(import.meta.dir, "../../../../shared/interop/mst");
const read = (name: string) => readFileSync(join(dir, name), "utf8");

/** A leaf value for the vectors (the spec's examples point every key at one record CID). */
const VALUE = CID.parse("bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454");

/** The root @atproto/repo computes for `keys` → VALUE. */
async function referenceRoot(keys: readonly string[]): Promise<string> {
  let mst = await MST.create(new MemoryBlockstore());
  for (const key of keys) mst = await mst.add(key, VALUE as never);
  return (await mst.getPointer()).toString();
}

/** Our root after inserting `keys` in order, then deleting `removed`, in one edit over a fresh store. */
async function ourRoot(keys: readonly string[], removed: readonly string[] = []): Promise<string> {
  const store = new MemoryBlocks();
  const edit = MstEdit.empty(store.source, new BlockCache<StoredNode>(1000, 1 << 24));
  for (const key of keys) await edit.insert(key, VALUE);
  for (const key of removed) await edit.delete(key);
  return edit.finish().root.toString();
}

describe("MST interop vectors", () => {
  test("key heights", () => {
    const cases = JSON.parse(read("key_heights.json")) as { key: string; height: number }[];
    for (const { key, height } of cases) expect({ key, height: keyLayer(key) }).toEqual({ key, height });
  });

  test("common prefix lengths", () => {
    const cases = JSON.parse(read("common_prefix.json")) as { left: string; right: string; len: number }[];
    for (const { left, right, len } of cases) expect(commonPrefixLength(left, right)).toBe(len);
  });

  test("the empty tree's root", async () => {
    const empty = encodeNode(null, []).cid.toString();
    expect(empty).toBe("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm");
    expect(await referenceRoot([])).toBe(empty);
    expect(await ourRoot([])).toBe(empty);
  });

  test("the example keys give @atproto/repo's root whatever the insertion order", async () => {
    const keys = read("example_keys.txt").split("\n").map((k) => k.trim()).filter(Boolean);
    const expected = await referenceRoot(keys);
    const random = prng(7);
    for (let round = 0; round < 5; round++) {
      const shuffled = [...keys].sort(() => random() - 0.5);
      expect(await ourRoot(shuffled)).toBe(expected);
    }
    expect(await ourRoot([...keys].reverse())).toBe(expected);
  });

  test("deleting keys gives the tree of the keys that remain", async () => {
    const keys = read("example_keys.txt").split("\n").map((k) => k.trim()).filter(Boolean);
    const random = prng(11);
    for (let round = 0; round < 5; round++) {
      const removed = keys.filter(() => random() < 0.5);
      const kept = keys.filter((k) => !removed.includes(k));
      expect(await ourRoot(keys, removed)).toBe(await referenceRoot(kept));
    }
    expect(await ourRoot(keys, keys)).toBe(await referenceRoot([]));
  });

  test("keys of many layers (layer 0 to 8 of the height vectors) in one tree", async () => {
    const keys = ["app.bsky.feed.post/454397e440ec", "app.bsky.feed.post/9adeb165882c"];
    for (let i = 0; i < 300; i++) keys.push(`com.example.record/${i.toString(36).padStart(6, "0")}`);
    const expected = await referenceRoot(keys);
    expect(await ourRoot([...keys].reverse())).toBe(expected);
    expect(await ourRoot(keys, keys.slice(0, 2))).toBe(await referenceRoot(keys.slice(2)));
  });
});
