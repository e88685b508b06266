import { CID } from "multiformats/cid";
import { encodeDagCbor } from "@/repo/dag-cbor";
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

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const BASE32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32.length; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;

/**
 * The binary form of a CID string: base32 (multibase `b`, the form CIDv1 strings take here)
 * decoded directly, without building a CID object; anything else through CID.parse.
 */
export function cidStringBytes(cid: string): Uint8Array {
  if (cid.charCodeAt(0) !== 0x62) return CID.parse(cid).bytes;
  const out = new Uint8Array(Math.floor(((cid.length - 1) * 5) / 8));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (let i = 1; i < cid.length; i++) {
    const v = BASE32_VALUE[cid.charCodeAt(i)] ?? -1;
    if (v < 0) return CID.parse(cid).bytes;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** Unsigned LEB128, as CAR frames its sections. */
function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}
