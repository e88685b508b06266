/**
 * Seeded random values of the atproto data model for fuzz tests: strings with
 * astral characters and lone surrogates, keys of equal length, integers at
 * every CBOR size boundary, bytes, CIDv0/v1, nested maps and arrays.
 */
import { CID } from "multiformats/cid";

/** mulberry32: small, seeded, good enough to pick shapes. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

export const BOUNDARY_INTS = [
  0, 1, 23, 24, 25, 255, 256, 257, 65535, 65536, 65537, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40,
  Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1,
].flatMap((n) => [n, -n, -n - 1].filter(Number.isSafeInteger));

export const PIECES = [
  "a", "b", "z", "A", "~", "\u0000", "\u007f", "\u0080", "é", "ß", "\u07ff", "\u0800", "€", "⽘", "\uffff", "\ufffd",
  "\ue000", "😀", "𓋓", "👨‍👩‍👧", "\ud800", "\udfff", "\udc00x", "$type", "text", "\n", " ", "日本語",
];

export function fuzzString(r: ReturnType<typeof prng>): string {
  const mode = r.int(10);
  if (mode === 0) return "";
  if (mode === 1) return "x".repeat(r.pick([22, 23, 24, 25, 63, 64, 65, 255, 256, 1000]));
  if (mode === 2) return "é".repeat(r.pick([11, 12, 13, 21, 22, 85, 86, 127, 128, 200]));
  if (mode === 3) return "😀".repeat(r.pick([5, 6, 16, 63, 64]));
  let s = "";
  const n = r.int(12);
  for (let i = 0; i < n; i++) s += r.next() < 0.6 ? String.fromCharCode(97 + r.int(26)) : r.pick(PIECES);
  return s;
}

/** Keys often of one length, so the bytewise tie-break matters. */
export function fuzzKey(r: ReturnType<typeof prng>): string {
  const mode = r.int(6);
  if (mode === 0) return r.pick(["a", "b", "aa", "ab", "ba", "é", "z", "\ue000", "😀", "p", "k", "v", "t"]);
  if (mode === 1) return String.fromCharCode(97 + r.int(4), 97 + r.int(4));
  if (mode === 2) return r.pick(["$type", "text", "createdAt", "langs", "facets", "embed", "reply", "did", "rev"]);
  if (mode === 3) return "";
  return fuzzString(r);
}

export function fuzzBytes(r: ReturnType<typeof prng>): Uint8Array {
  const n = r.pick([0, 1, 23, 24, 32, 255, 256, r.int(40)]);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(256);
  return out;
}

export function fuzzCid(r: ReturnType<typeof prng>): CID {
  const digest = new Uint8Array(34);
  digest[0] = 0x12;
  digest[1] = 32;
  for (let i = 2; i < 34; i++) digest[i] = r.int(256);
  const mh = { code: 0x12, size: 32, digest: digest.subarray(2), bytes: digest };
  const choice = r.int(3);
  if (choice === 0) return CID.createV0(mh as never) as unknown as CID;
  return CID.createV1(choice === 1 ? 0x71 : 0x55, mh as never);
}

export function fuzzValue(r: ReturnType<typeof prng>, depth: number): unknown {
  const kind = r.int(depth > 4 ? 7 : 10);
  switch (kind) {
    case 0:
      return r.next() < 0.5 ? r.pick(BOUNDARY_INTS) : r.int(2 ** 31) - 2 ** 30;
    case 1:
      return fuzzString(r);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return fuzzBytes(r);
    case 4:
      return fuzzCid(r);
    case 5:
      return r.pick(BOUNDARY_INTS);
    case 6:
      return fuzzString(r);
    case 7:
    case 8: {
      const obj: Record<string, unknown> = {};
      const n = r.pick([0, 1, 2, 3, 4, 8, r.int(30)]);
      for (let i = 0; i < n; i++) obj[fuzzKey(r)] = fuzzValue(r, depth + 1);
      return obj;
    }
    default: {
      const n = r.pick([0, 1, 2, 5, 23, 24, r.int(10)]);
      return Array.from({ length: n }, () => fuzzValue(r, depth + 1));
    }
  }
}

