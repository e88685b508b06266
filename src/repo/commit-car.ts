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
  const header = encodeDagCbor({ version: 1, roots: [root] });
  const rootString = root.toString();
  // First the CIDs' bytes and the total size, then one buffer written in order: no per-block parts.
  const cids: Uint8Array[] = [];
  let size = varintLength(header.length) + header.length;
  for (const [cid, bytes] of blocks) {
    const cidBytes = cid === rootString ? root.bytes : cidStringBytes(cid);
    cids.push(cidBytes);
    const section = cidBytes.length + bytes.length;
    size += varintLength(section) + section;
  }
  const out = new Uint8Array(size);
  let at = writeVarint(out, 0, header.length);
  out.set(header, at);
  at += header.length;
  let i = 0;
  for (const bytes of blocks.values()) {
    const cidBytes = cids[i++]!;
    at = writeVarint(out, at, cidBytes.length + bytes.length);
    out.set(cidBytes, at);
    at += cidBytes.length;
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** Unsigned LEB128, as CAR frames its sections. */
export function varint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  writeVarint(out, 0, n);
  return out;
}

function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

/** Write `n` as unsigned LEB128 at `at`; returns where it ends. */
function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}
