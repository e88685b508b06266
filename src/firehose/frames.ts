import { decode as decodeCbor } from "@ipld/dag-cbor";
import { encodeDagCbor } from "@/repo/dag-cbor";
import type { SeqRow } from "@/sequencer/reader";

/**
 * Event-stream frames (atproto "Event Stream" spec): one binary WebSocket
 * message = a DAG-CBOR header followed by a DAG-CBOR body.
 * - message: header `{op: 1, t: "#commit"}` + the event object;
 * - error: header `{op: -1}` + `{error, message}`, after which the server closes.
 */

/** An event ready to send: its frame is built once per node and shared by every subscriber. */
export interface FirehoseEvent {
  readonly seq: number;
  /** `commit`, `identity`, `account` or `sync`. */
  readonly type: string;
  readonly frame: Uint8Array;
  readonly did: string;
  /** An `#account` event with status deleted: the account's earlier events are gone from the table. */
  readonly deletesAccount?: boolean;
}

const headers = new Map<string, Uint8Array>();
const ERROR_HEADER = encodeDagCbor({ op: -1 });

function messageHeader(type: string): Uint8Array {
  let header = headers.get(type);
  if (!header) {
    header = encodeDagCbor({ op: 1, t: `#${type}` });
    headers.set(type, header);
  }
  return header;
}

export function messageFrame(type: string, body: Record<string, unknown>): Uint8Array {
  return concat(messageHeader(type), encodeDagCbor(body));
}

export function errorFrame(error: string, message: string): Uint8Array {
  return concat(ERROR_HEADER, encodeDagCbor({ error, message }));
}

/** `#info` messages tell a consumer something without ending the stream (OutdatedCursor). */
export function infoFrame(name: string, message: string): Uint8Array {
  return messageFrame("info", { name, message });
}

/** The stored body gets its `seq` here: the database assigned it after the body was encoded. */
export function rowToEvent(row: SeqRow): FirehoseEvent {
  if (row.event_type === "account") {
    // Small, rare, and the one whose fields matter here (a deleted account's events are gone).
    const body = decodeCbor<Record<string, unknown>>(row.event);
    body.seq = row.seq;
    const event = { seq: row.seq, type: row.event_type, frame: messageFrame(row.event_type, body), did: row.did };
    return body.status === "deleted" ? { ...event, deletesAccount: true } : event;
  }
  return { seq: row.seq, type: row.event_type, frame: concat(messageHeader(row.event_type), bodyWithSeq(row.event, row.seq)), did: row.did };
}

/**
 * A stored event body with `seq` added, as `encode({...decode(body), seq})` would give it, without
 * decoding the body (a #commit's carries its blocks): the body is a DAG-CBOR map, keys in canonical
 * order (shorter first, then bytewise), so `seq` goes in before the first key that sorts after it;
 * only the entries before that point are walked over. A body that is not such a map is a clear error.
 */
export function bodyWithSeq(body: Uint8Array, seq: number): Uint8Array {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`firehose: seq ${seq} is not a non-negative integer`);
  if ((body[0] ?? 0) >> 5 !== 5) throw new Error("firehose: a stored event body that is not a map");
  const walk = new Walker(body);
  const count = walk.argument();
  const start = walk.pos;
  let at = start;
  for (let i = 0; i < count; i++, at = walk.pos) {
    if ((body[walk.pos] ?? 0) >> 5 !== 3) throw new Error("firehose: a stored event body with a key that is not a string");
    const keyLength = walk.argument();
    const order = keyLength === 3 ? compareSeq(body, walk.pos) : keyLength - 3;
    if (order === 0) throw new Error("firehose: a stored event body that already has seq");
    if (order > 0) break;
    walk.pos += keyLength;
    walk.skip(0);
  }
  const mapHead = cborHead(5, count + 1);
  const entry = cborHead(0, seq);
  const out = new Uint8Array(mapHead.length + (at - start) + SEQ_KEY.length + entry.length + (body.length - at));
  let o = 0;
  for (const part of [mapHead, body.subarray(start, at), SEQ_KEY, entry, body.subarray(at)]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** "seq" as a DAG-CBOR text string. */
const SEQ_KEY = Uint8Array.of(0x63, 0x73, 0x65, 0x71);

/** The 3-byte key at `at` against "seq", bytewise. */
function compareSeq(bytes: Uint8Array, at: number): number {
  for (let i = 0; i < 3; i++) {
    const d = (bytes[at + i] ?? 0) - SEQ_KEY[i + 1]!;
    if (d !== 0) return d;
  }
  return 0;
}

/** A CBOR head (major type and argument) in its shortest form, as DAG-CBOR requires. */
function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  if (n < 0x100000000) return Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  const hi = Math.floor(n / 0x100000000);
  return Uint8Array.of(m | 27, hi >>> 24, (hi >> 16) & 0xff, (hi >> 8) & 0xff, hi & 0xff, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/** Walks CBOR items by their heads and lengths, without building values. */
class Walker {
  pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** The argument of the head at `pos`, moving past the head. */
  argument(): number {
    const b = this.bytes;
    if (this.pos >= b.length) throw new Error("firehose: a stored event body that ends early");
    const info = b[this.pos++]! & 0x1f;
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0 || this.pos + size > b.length) throw new Error("firehose: a stored event body with a malformed head");
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + b[this.pos++]!;
    return n;
  }

  /** Move past one whole item. */
  skip(depth: number): void {
    if (depth > 64) throw new Error("firehose: a stored event body nested too deeply");
    const major = (this.bytes[this.pos] ?? 0) >> 5;
    const n = this.argument();
    if (major === 2 || major === 3) this.pos += n;
    else if (major === 4) for (let i = 0; i < n; i++) this.skip(depth + 1);
    else if (major === 5) for (let i = 0; i < 2 * n; i++) this.skip(depth + 1);
    else if (major === 6) this.skip(depth + 1);
    if (this.pos > this.bytes.length) throw new Error("firehose: a stored event body that ends early");
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
