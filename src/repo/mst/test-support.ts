import { CID } from "multiformats/cid";
import { cidForDagCbor } from "@/repo/dag-cbor-cid";
import { encodeDagCbor } from "@/repo/dag-cbor";
import type { BuiltCommit } from "./commit";
import type { BlockSource } from "./tree";

/** Seeded PRNG (mulberry32) for reproducible random test sequences. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A record block: its DAG-CBOR bytes and CID. */
export function recordBlock(record: Record<string, unknown>): { record: Record<string, unknown>; bytes: Uint8Array; cid: CID } {
  const bytes = encodeDagCbor(record);
  return { record, bytes, cid: cidForDagCbor(bytes) };
}

/** A block store in memory, by CID string, that applies our commits. */
export class MemoryBlocks {
  readonly blocks = new Map<string, Uint8Array>();
  reads = 0;

  readonly source: BlockSource = async (cids) => {
    this.reads++;
    const out = new Map<string, Uint8Array>();
    for (const cid of cids) {
      const bytes = this.blocks.get(cid);
      if (bytes) out.set(cid, bytes);
    }
    return out;
  };

  /** Store `commit`; a removed record block that a live record (`live`, record CIDs) still uses is kept, as the write path does. */
  apply(commit: BuiltCommit, live?: ReadonlySet<string>): void {
    for (const cid of commit.removedCids) if (!commit.newBlocks.has(cid) && !live?.has(cid)) this.blocks.delete(cid);
    for (const [cid, bytes] of commit.newBlocks) this.blocks.set(cid, bytes);
  }
}

export function sorted(keys: Iterable<string>): string[] {
  return [...keys].sort();
}

export function cidKey(cid: { toString(): string }): string {
  return CID.parse(cid.toString()).toString();
}
