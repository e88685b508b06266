import { CID } from "multiformats/cid";

/**
 * CID strings ↔ bytes for the write path without multiformats' generic
 * base codecs (a CID's string is computed once per object there, and each
 * commit makes new ones). CIDv1 strings here are multibase `b`: lowercase
 * base32 without padding; anything else goes through CID.parse.
 */

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const BASE32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32.length; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;

const strings = new WeakMap<CID, string>();
const BASE32_CODES = Uint8Array.from(BASE32, (c) => c.charCodeAt(0));

/** The string of a CID, as `cid.toString()` gives it (`b` + base32 for v1), remembered per CID object. */
export function cidToString(cid: CID): string {
  let s = strings.get(cid);
  if (s === undefined) {
    s = cid.version === 1 ? base32String(cid.bytes) : cid.toString();
    strings.set(cid, s);
  }
  return s;
}

function base32String(bytes: Uint8Array): string {
  const codes = new Uint8Array(1 + Math.ceil((bytes.length * 8) / 5));
  codes[0] = 0x62;
  let at = 1;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      codes[at++] = BASE32_CODES[(acc >>> bits) & 31]!;
    }
  }
  if (bits > 0) codes[at++] = BASE32_CODES[(acc << (5 - bits)) & 31]!;
  return String.fromCharCode.apply(null, codes.subarray(0, at) as unknown as number[]);
}

/** The binary form of a CID string, decoded directly when it is base32 (`b`). */
export function cidStringBytes(cid: string): Uint8Array {
  if (cid.charCodeAt(0) !== 0x62) return CID.parse(cid).bytes;
  const out = new Uint8Array(Math.floor(((cid.length - 1) * 5) / 8));
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (let i = 1; i < cid.length; i++) {
    const v = BASE32_VALUE[cid.charCodeAt(i)] ?? -1;
    if (v < 0) return CID.parse(cid).bytes;
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}
