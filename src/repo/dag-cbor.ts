import { CID } from "multiformats/cid";
import { MapKey, MapKeyCache, sortSlots } from "./dag-cbor-keys";

/**
 * DAG-CBOR for the repo write path: records, MST nodes and commits (map
 * keys: dag-cbor-keys.ts; the blocks' CIDs: dag-cbor-cid.ts).
 *
 * A hand-written encoder: @ipld/dag-cbor (through cborg) builds a token tree
 * and sorts map entries through a generic comparator; this writes straight
 * into one reused buffer, copies the encoded bytes of frequent map keys from a
 * cache and sorts keys with an insertion sort. The output is byte-for-byte
 * what @ipld/dag-cbor gives for every value of the atproto data model
 * (src/repo/dag-cbor.test.ts checks the interop vectors and fuzzed values).
 *
 * Where the two differ, this follows the atproto data model
 * (https://atproto.com/specs/data-model), as @atproto/lex-cbor does:
 * - numbers must be safe integers: floats, NaN, ±Infinity and integers past
 *   2^53 are refused (@ipld/dag-cbor writes them as float64); bigints are
 *   accepted within the signed 64-bit range only;
 * - nesting deeper than MAX_ENCODE_DEPTH is refused (this also stops a
 *   circular value, which @ipld/dag-cbor detects by walking a parent chain).
 * Like @ipld/dag-cbor (and unlike @atproto/lex-cbor, which drops them),
 * `undefined` is refused everywhere, map values included.
 */

/** Deepest nesting of arrays and maps encoded; src/lexicon/data-model.ts accepts 128. */
export const MAX_ENCODE_DEPTH = 512;

export class DagCborEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DagCborEncodeError";
  }
}

const MAJOR_UINT = 0x00;
const MAJOR_NEGINT = 0x20;
const MAJOR_BYTES = 0x40;
const MAJOR_STRING = 0x60;
const MAJOR_ARRAY = 0x80;
const MAJOR_MAP = 0xa0;
const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;
/** Tag 42 (a CID) is 0xd8 0x2a. */
const TAG_1BYTE = 0xd8;
const CID_TAG = 42;

const INITIAL_SIZE = 16 * 1024;
/** A buffer grown past this by one large value is dropped after the call. */
const KEEP_SIZE = 1024 * 1024;
/** Strings at least this long go through TextEncoder.encodeInto (native) instead of the JS ASCII loop. */
const NATIVE_STRING_MIN = 64;

let buf = new Uint8Array(INITIAL_SIZE);
let pos = 0;
let busy = false;
const utf8 = new TextEncoder();

function grow(need: number): void {
  let size = buf.length * 2;
  while (size < pos + need) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
}

/** Make room for `need` more bytes. */
function reserve(need: number): void {
  if (pos + need > buf.length) grow(need);
}

/** A CBOR head: major type and a non-negative safe integer argument, shortest form. */
function head(major: number, n: number): void {
  reserve(9);
  const b = buf;
  let p = pos;
  if (n < 24) {
    b[p++] = major | n;
  } else if (n < 0x100) {
    b[p++] = major | 24;
    b[p++] = n;
  } else if (n < 0x10000) {
    b[p++] = major | 25;
    b[p++] = n >>> 8;
    b[p++] = n;
  } else if (n < 0x100000000) {
    b[p++] = major | 26;
    b[p++] = n >>> 24;
    b[p++] = n >>> 16;
    b[p++] = n >>> 8;
    b[p++] = n;
  } else {
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    b[p++] = major | 27;
    b[p++] = hi >>> 24;
    b[p++] = hi >>> 16;
    b[p++] = hi >>> 8;
    b[p++] = hi;
    b[p++] = lo >>> 24;
    b[p++] = lo >>> 16;
    b[p++] = lo >>> 8;
    b[p++] = lo;
  }
  pos = p;
}

function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function writeString(s: string): void {
  const len = s.length;
  if (len < NATIVE_STRING_MIN) {
    // Optimistic ASCII: one byte a code unit; start over natively at the first other one.
    reserve(len + 3);
    const start = pos;
    head(MAJOR_STRING, len);
    const b = buf;
    let p = pos;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        pos = start;
        writeStringNative(s);
        return;
      }
      b[p++] = c;
    }
    pos = p;
    return;
  }
  writeStringNative(s);
}

/**
 * UTF-8 by TextEncoder (lone surrogates become U+FFFD, as in cborg). The
 * length is known only after encoding, so the bytes go after room for the
 * longest head and move back when the real head is shorter.
 */
function writeStringNative(s: string): void {
  const max = s.length * 3;
  const room = headSize(max);
  reserve(room + max + 9);
  const { written } = utf8.encodeInto(s, buf.subarray(pos + room, pos + room + max));
  const actual = headSize(written);
  if (actual < room) buf.copyWithin(pos + actual, pos + room, pos + room + written);
  head(MAJOR_STRING, written);
  pos += written;
}

function writeBytes(bytes: Uint8Array): void {
  const len = bytes.length;
  head(MAJOR_BYTES, len);
  reserve(len);
  buf.set(bytes, pos);
  pos += len;
}

/** Tag 42 around the binary CID with its 0x00 multibase prefix. */
function writeCid(cidBytes: Uint8Array): void {
  const len = cidBytes.length;
  reserve(2);
  buf[pos++] = TAG_1BYTE;
  buf[pos++] = CID_TAG;
  head(MAJOR_BYTES, len + 1);
  reserve(len + 1);
  buf[pos++] = 0;
  buf.set(cidBytes, pos);
  pos += len;
}

function writeNumber(n: number): void {
  if ((n | 0) !== n && !Number.isSafeInteger(n)) {
    if (Number.isInteger(n)) throw new DagCborEncodeError(`integer ${n} is outside the safe range the data model allows`);
    throw new DagCborEncodeError(`number ${n} is not an integer: floats are not in the atproto data model`);
  }
  if (n >= 0) head(MAJOR_UINT, n);
  else head(MAJOR_NEGINT, -1 - n);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function writeBigInt(n: bigint): void {
  if (n < INT64_MIN || n > INT64_MAX) throw new DagCborEncodeError(`integer ${n} is outside the signed 64-bit range`);
  const major = n < 0n ? MAJOR_NEGINT : MAJOR_UINT;
  const u = n < 0n ? -1n - n : n;
  if (u <= BigInt(Number.MAX_SAFE_INTEGER)) {
    head(major, Number(u));
    return;
  }
  head(major, 0x100000000); // the 9-byte form; its last eight bytes are rewritten
  const hi = Number(u >> 32n);
  const lo = Number(u & 0xffffffffn);
  const b = buf;
  const p = pos - 8;
  b[p] = hi >>> 24;
  b[p + 1] = hi >>> 16;
  b[p + 2] = hi >>> 8;
  b[p + 3] = hi;
  b[p + 4] = lo >>> 24;
  b[p + 5] = lo >>> 16;
  b[p + 6] = lo >>> 8;
  b[p + 7] = lo;
}

/** A key's head and UTF-8, written past the end of the current output and copied out. */
function encodeKey(key: string): MapKey {
  const start = pos;
  writeString(key);
  const out = buf.slice(start, pos);
  pos = start;
  return new MapKey(out);
}

const keyCache = new MapKeyCache(encodeKey);

function writeKey(bytes: Uint8Array): void {
  const len = bytes.length;
  reserve(len);
  if (len <= 16) {
    const b = buf;
    let p = pos;
    for (let i = 0; i < len; i++) b[p++] = bytes[i]!;
    pos = p;
  } else {
    buf.set(bytes, pos);
    pos += len;
  }
}

/**
 * The keys and values of the maps being written, innermost last: a map takes
 * `n` slots from `stackTop`, sorts them and gives them back when written.
 */
const keyStack: MapKey[] = [];
const valueStack: unknown[] = [];
let stackTop = 0;

/** Write slots [base, base + n) in order, then free them. */
function writeSlots(base: number, n: number, depth: number): void {
  sortSlots(keyStack, valueStack, base, n);
  const end = base + n;
  for (let i = base; i < end; i++) {
    writeKey(keyStack[i]!.bytes);
    const value = valueStack[i];
    valueStack[i] = undefined; // hold no reference once written
    writeValue(value, depth);
  }
  stackTop = base;
}

function writeObject(obj: Record<string, unknown>, depth: number): void {
  const keys = Object.keys(obj);
  const n = keys.length;
  head(MAJOR_MAP, n);
  if (n === 0) return;
  const base = stackTop;
  stackTop = base + n;
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    keyStack[base + i] = keyCache.get(key);
    valueStack[base + i] = obj[key];
  }
  writeSlots(base, n, depth);
}

function writeMap(map: Map<unknown, unknown>, depth: number): void {
  const n = map.size;
  const base = stackTop;
  stackTop = base + n;
  let i = base;
  for (const [key, value] of map) {
    if (typeof key !== "string" || key.length === 0) throw new DagCborEncodeError("map keys must be non-empty strings");
    keyStack[i] = keyCache.get(key);
    valueStack[i++] = value;
  }
  head(MAJOR_MAP, n);
  writeSlots(base, n, depth);
}

// ---- values ----

/** Objects cborg refuses ("unsupported type"); other class instances are maps of their own keys. */
const UNSUPPORTED_TAGS = new Set(["RegExp", "Date", "Error", "Set", "WeakMap", "WeakSet", "SharedArrayBuffer", "Promise", "URL"]);

/** The binary form of a CID of any multiformats copy (`cid['/'] === cid.bytes`, or the older `cid.asCID === cid`), else null. */
function cidBytesOf(obj: Record<string, unknown>): Uint8Array | null {
  const slash = obj["/"];
  if (!((slash !== undefined && slash !== null && slash === obj.bytes) || obj.asCID === obj)) return null;
  const bytes = obj.bytes;
  if (bytes instanceof Uint8Array) return bytes;
  const cid = CID.asCID(obj);
  return cid ? cid.bytes : null;
}

function writeValue(value: unknown, depth: number): void {
  switch (typeof value) {
    case "string":
      writeString(value);
      return;
    case "number":
      writeNumber(value);
      return;
    case "boolean":
      reserve(1);
      buf[pos++] = value ? TRUE : FALSE;
      return;
    case "object":
      if (value === null) {
        reserve(1);
        buf[pos++] = NULL;
        return;
      }
      writeObjectValue(value, depth + 1);
      return;
    case "bigint":
      writeBigInt(value);
      return;
    case "undefined":
      throw new DagCborEncodeError("`undefined` is not in the data model and cannot be encoded");
    default:
      throw new DagCborEncodeError(`a ${typeof value} is not in the data model and cannot be encoded`);
  }
}

function writeObjectValue(value: object, depth: number): void {
  if (depth > MAX_ENCODE_DEPTH) throw new DagCborEncodeError(`value is nested more than ${MAX_ENCODE_DEPTH} levels deep (or is circular)`);
  if (Array.isArray(value)) {
    const n = value.length;
    head(MAJOR_ARRAY, n);
    for (let i = 0; i < n; i++) writeValue(value[i], depth);
    return;
  }
  if (value instanceof Uint8Array) {
    writeBytes(value);
    return;
  }
  const obj = value as Record<string, unknown>;
  const cid = cidBytesOf(obj);
  if (cid !== null) {
    writeCid(cid);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    writeObject(obj, depth);
    return;
  }
  if (value instanceof Map) {
    writeMap(value, depth);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    writeBytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return;
  }
  if (value instanceof ArrayBuffer) {
    writeBytes(new Uint8Array(value));
    return;
  }
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (UNSUPPORTED_TAGS.has(tag)) throw new DagCborEncodeError(`a ${tag} is not in the data model and cannot be encoded`);
  writeObject(obj, depth);
}

function encodeFresh(value: unknown): Uint8Array {
  const savedBuf = buf;
  const savedPos = pos;
  const savedTop = stackTop;
  buf = new Uint8Array(256);
  pos = 0;
  try {
    writeValue(value, 0);
    return buf.slice(0, pos);
  } finally {
    buf = savedBuf;
    pos = savedPos;
    stackTop = savedTop;
  }
}

/** DAG-CBOR bytes of a data-model value; throws DagCborEncodeError on what the data model forbids. */
export function encodeDagCbor(value: unknown): Uint8Array {
  // A getter inside the value may encode something itself: it gets a buffer of its own.
  if (busy) return encodeFresh(value);
  busy = true;
  pos = 0;
  stackTop = 0;
  try {
    writeValue(value, 0);
    return buf.slice(0, pos);
  } catch (err) {
    valueStack.fill(undefined); // a refused value is not kept alive
    throw err;
  } finally {
    busy = false;
    if (buf.length > KEEP_SIZE) buf = new Uint8Array(INITIAL_SIZE);
  }
}
