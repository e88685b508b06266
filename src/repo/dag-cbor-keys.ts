/**
 * DAG-CBOR map keys for the encoder (dag-cbor.ts): a key's encoded bytes with
 * a packed sort order, a bounded cache of them, and the sort of a map's
 * entries into DAG-CBOR's key order.
 */

/**
 * A map key ready to write and to sort. DAG-CBOR orders keys by UTF-8 length,
 * then bytewise; `order` packs the length and the first five bytes into one
 * safe integer, so most comparisons are one number against another, and
 * `exact` says the number decides alone (the key has at most five bytes).
 */
export class MapKey {
  readonly bytes: Uint8Array;
  readonly order: number;
  readonly exact: boolean;
  /** `bytes`: the key's CBOR head, then its UTF-8. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    const minor = bytes[0]! & 0x1f;
    const off = minor < 24 ? 1 : minor === 24 ? 2 : minor === 25 ? 3 : 5;
    const len = bytes.length - off;
    // Keys of 8191 bytes and more share one order (a safe integer has no room
    // for their length) and are told apart by keyBefore's full comparison.
    let order = 0x1fff * 2 ** 40;
    if (len < 0x1fff) {
      order = len * 2 ** 40;
      for (let i = 0; i < 5; i++) order += (off + i < bytes.length ? bytes[off + i]! : 0) * 2 ** (32 - 8 * i);
    }
    this.order = order;
    this.exact = len <= 5;
  }
}

const KEY_CACHE_MAX = 4096;
const KEY_CACHE_MAX_LENGTH = 64;
/** Keys of records, MST nodes and commits, cached from the start. */
const FREQUENT_KEYS = [
  // MST node and entry, commit
  "l", "e", "p", "k", "v", "t", "did", "version", "data", "rev", "prev", "sig",
  // records
  "$type", "text", "createdAt", "langs", "labels", "tags", "facets", "features", "index", "byteStart", "byteEnd",
  "uri", "tag", "embed", "images", "image", "alt", "aspectRatio", "width", "height", "video", "captions",
  "external", "title", "description", "thumb", "record", "media", "reply", "root", "parent", "cid", "subject",
  "ref", "mimeType", "size", "displayName", "avatar", "banner", "pinnedPost", "joinedViaStarterPack", "via",
  "values", "val", "list", "name", "purpose", "items", "feed", "allow", "listitem", "post", "lang",
];

/** Encoded map keys by key; bounded, reseeded with FREQUENT_KEYS when full. */
export class MapKeyCache {
  private readonly keys = new Map<string, MapKey>();

  /** `encode`: a key's CBOR head and UTF-8, as a MapKey. */
  constructor(private readonly encode: (key: string) => MapKey) {
    this.seed();
  }

  private seed(): void {
    this.keys.clear();
    for (const key of FREQUENT_KEYS) this.keys.set(key, this.encode(key));
  }

  get(key: string): MapKey {
    let entry = this.keys.get(key);
    if (entry === undefined) {
      entry = this.encode(key);
      if (key.length <= KEY_CACHE_MAX_LENGTH) {
        if (this.keys.size >= KEY_CACHE_MAX) this.seed();
        this.keys.set(key, entry);
      }
    }
    return entry;
  }
}

/** DAG-CBOR key order: shorter encoding first, then bytewise. */
function keyBefore(a: MapKey, b: MapKey): boolean {
  if (a.order !== b.order) return a.order < b.order;
  if (a.exact) return false;
  const x = a.bytes;
  const y = b.bytes;
  if (x.length !== y.length) return x.length < y.length;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]!;
  }
  return false;
}

/**
 * Insertion sort of slots [base, base + n) of `keys`, and of `values` with
 * them, into key order; maps here hold a handful of keys.
 */
export function sortSlots(keys: MapKey[], values: unknown[], base: number, n: number): void {
  const end = base + n;
  for (let i = base + 1; i < end; i++) {
    const key = keys[i]!;
    if (!keyBefore(key, keys[i - 1]!)) continue;
    const value = values[i];
    let j = i - 1;
    while (j >= base && keyBefore(key, keys[j]!)) {
      keys[j + 1] = keys[j]!;
      values[j + 1] = values[j];
      j--;
    }
    keys[j + 1] = key;
    values[j + 1] = value;
  }
}
