import type { CID } from "multiformats/cid";
import { encodeDagCbor } from "@/repo/dag-cbor";
import { cidStringBytes } from "./mst/cid";
import type { CommitDetails } from "./types";

/**
 * The `blocks` of a commit's firehose event (Sync 1.1): a CAR rooted at the
 * commit, holding every block the commit added and the MST proof of each op,
 * enough for a consumer to check the ops against `prevData` and the new root.
 */
export function commitDiffCar(commit: CommitDetails): Uint8Array {
  const blocks = new Map(commit.newBlocks);
  for (const [cid, bytes] of commit.relevantBlocks) blocks.set(cid, bytes);
  return carFile(commit.cid, blocks);
}

/** A CAR v1 file rooted at `root` holding `blocks` (by CID string), in their order. */
export function carFile(root: CID, blocks: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = encodeDagCbor({ version: 1, roots: [root] });
  parts.push(varint(header.length), header);
  for (const [cid, bytes] of blocks) {
    const cidBytes = cid === root.toString() ? root.bytes : cidStringBytes(cid);
    parts.push(varint(cidBytes.length + bytes.length), cidBytes, bytes);
  }
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Unsigned LEB128, as CAR frames its sections. */
export function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}
