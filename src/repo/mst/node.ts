import { createHash } from "node:crypto";
import { decode } from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { cidForDagCbor } from "@/repo/dag-cbor-cid";
import { encodeDagCbor } from "@/repo/dag-cbor";

/**
 * MST nodes as the atproto repository spec stores them: `{l, e: [{p, k, v, t}]}`
 * with each key written as the length of the prefix it shares with the key
 * before it (`p`) and the rest of its bytes (`k`). Decoded here into full keys;
 * a decoded node is immutable (shared by the process-wide cache).
 */

/** One key of a node: its record CID and the subtree of the keys between it and the next key. */
export interface NodeEntry {
  key: string;
  value: CID;
  right: CID | null;
}

/** A stored node, decoded, with its bytes (a proof carries them as they are). */
export interface StoredNode {
  cid: CID;
  left: CID | null;
  entries: readonly NodeEntry[];
  bytes: Uint8Array;
  /** Its layer, when known without hashing a key (a node this process built). */
  layer?: number;
}

/** The layer of `key`: leading zero bits of its SHA-256 counted in pairs (fanout 4). */
export function keyLayer(key: string): number {
  const hash = createHash("sha256").update(key).digest();
  let zeros = 0;
  for (const byte of hash) {
    if (byte === 0) {
      zeros += 4;
      continue;
    }
    if (byte < 4) zeros += 3;
    else if (byte < 16) zeros += 2;
    else if (byte < 64) zeros += 1;
    break;
  }
  return zeros;
}

/** Bytes shared at the start of `a` and `b` (keys are ASCII, one byte a character). */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

const KEY_PART = /^[a-zA-Z0-9_~\-:.]+$/;

/** `collection/rkey` with the characters and length the spec allows. */
export function isValidMstKey(key: string): boolean {
  if (key.length > 1024) return false;
  const slash = key.indexOf("/");
  if (slash < 0 || key.indexOf("/", slash + 1) >= 0) return false;
  return KEY_PART.test(key.slice(0, slash)) && KEY_PART.test(key.slice(slash + 1));
}

function asciiBytes(s: string, from: number): Uint8Array {
  const out = new Uint8Array(s.length - from);
  for (let i = from; i < s.length; i++) out[i - from] = s.charCodeAt(i);
  return out;
}

function asciiString(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** Encode a node from its left subtree and entries (full keys); returns its bytes and CID. */
export function encodeNode(left: CID | null, entries: readonly { key: string; value: CID; right: CID | null }[]): { cid: CID; bytes: Uint8Array } {
  let last = "";
  const e = entries.map((entry) => {
    const p = commonPrefixLength(last, entry.key);
    last = entry.key;
    return { p, k: asciiBytes(entry.key, p), v: entry.value, t: entry.right };
  });
  const bytes = encodeDagCbor({ l: left, e });
  return { cid: cidForDagCbor(bytes), bytes };
}

/** Decode the bytes of node `cid`; throws on anything that is not a well-formed node. */
export function decodeNode(cid: CID, bytes: Uint8Array): StoredNode {
  const data = decode(bytes) as { l?: unknown; e?: unknown };
  if (data === null || typeof data !== "object" || !Array.isArray(data.e)) throw new Error(`not an MST node: ${cid}`);
  const left = asCidOrNull(data.l, cid);
  let last = "";
  const entries: NodeEntry[] = data.e.map((raw: { p?: unknown; k?: unknown; v?: unknown; t?: unknown }) => {
    if (typeof raw?.p !== "number" || !(raw.k instanceof Uint8Array) || raw.p > last.length) throw new Error(`not an MST node: ${cid}`);
    const key = last.slice(0, raw.p) + asciiString(raw.k);
    last = key;
    const value = asCidOrNull(raw.v, cid);
    if (!value) throw new Error(`MST entry without a value: ${cid}`);
    return { key, value, right: asCidOrNull(raw.t, cid) };
  });
  return { cid, left, entries, bytes };
}

function asCidOrNull(value: unknown, node: CID): CID | null {
  if (value === null || value === undefined) return null;
  const cid = CID.asCID(value);
  if (!cid) throw new Error(`not an MST node: ${node}`);
  return cid;
}
