import { Leaf, MST, MemoryBlockstore, type NodeEntry, mstUtil } from "@atproto/repo";
import type { CID } from "multiformats/cid";

/**
 * The root CID of the one canonical MST holding `leaves` (key → record CID).
 * An imported tree whose root differs has the right records in the wrong
 * shape: relays and other PDSes, building the same tree from the same keys,
 * would compute other node CIDs and fail to apply its diffs. Built bottom-up
 * in one pass (each key's layer is fixed by its hash) rather than by 10,000
 * successive MST.add calls, which copy the path to the root every time.
 */
export async function canonicalMstRoot(leaves: { key: string; cid: CID }[]): Promise<CID> {
  const sorted = [...leaves].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const layered = await Promise.all(sorted.map(async (leaf) => ({ ...leaf, layer: await mstUtil.leadingZerosOnHash(leaf.key) })));
  const top = layered.reduce((max, leaf) => Math.max(max, leaf.layer), 0);
  const storage = new MemoryBlockstore();
  return (await (await build(storage, layered, top)).getPointer()) as unknown as CID;
}

type Layered = { key: string; cid: CID; layer: number };

/** The node at `layer` over `leaves` (all at `layer` or below): its own keys, and a subtree one layer down for each run of lower keys between them. */
async function build(storage: MemoryBlockstore, leaves: Layered[], layer: number): Promise<MST> {
  const entries: NodeEntry[] = [];
  let run: Layered[] = [];
  const flush = async () => {
    if (run.length > 0) entries.push(await build(storage, run, layer - 1));
    run = [];
  };
  for (const leaf of leaves) {
    if (leaf.layer === layer) {
      await flush();
      entries.push(new Leaf(leaf.key, leaf.cid as never));
    } else run.push(leaf);
  }
  await flush();
  return MST.create(storage, entries, { layer });
}
