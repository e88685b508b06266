/**
 * The JSON bodies of com.atproto.repo.getRecord and listRecords, written as
 * UTF-8 bytes: each record's cached tail (its CID and value, `recordTail`) is
 * copied after its URI, so no text is built to be encoded again and a page is
 * one buffer.
 */

/** A record as the record reads answer it. */
export interface RecordView {
  uri: string;
  cid: string;
  /** `","cid":"<cid>","value":<value>}` as UTF-8: the end of the record's JSON, made by `recordTail`. */
  tail: Uint8Array;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();
const URI = utf8.encode('{"uri":"');
const CID = '","cid":"';
const VALUE = '","value":';
const RECORDS = utf8.encode('{"records":[');
const CURSOR = utf8.encode('],"cursor":"');

/** The end of a record's JSON body from its CID and the JSON text of its value (cbor-json.ts). */
export function recordTail(cid: string, valueJson: string): Uint8Array {
  assertPlain(cid, 0);
  return utf8.encode(`${CID}${cid}${VALUE}${valueJson}}`);
}

/** A record's value as data. */
export function recordValue(view: RecordView): unknown {
  return JSON.parse(text.decode(view.tail.subarray(CID.length + view.cid.length + VALUE.length, -1)));
}

/** getRecord's answer: `{uri, cid, value}`. */
export function recordBody(view: RecordView): Uint8Array {
  const out = new Uint8Array(URI.length + view.uri.length + view.tail.length);
  out.set(URI);
  out.set(view.tail, putPlain(out, URI.length, view.uri, 0));
  return out;
}

/**
 * listRecords' answer: `{records, cursor?}`. The records of a page share their URIs up to the
 * record key, so that part is encoded once.
 */
export function pageBody(records: readonly RecordView[], cursor?: string): Uint8Array {
  const first = records[0]?.uri ?? "";
  const shared = first.slice(0, first.lastIndexOf("/") + 1);
  const sharedBytes = utf8.encode(shared);
  assertPlain(shared, 0);
  let size = RECORDS.length + Math.max(records.length - 1, 0) + (cursor === undefined ? 2 : CURSOR.length + cursor.length + 2);
  for (const view of records) size += URI.length + view.uri.length + view.tail.length;
  const out = new Uint8Array(size);
  out.set(RECORDS);
  let at = RECORDS.length;
  records.forEach((view, i) => {
    if (i > 0) out[at++] = 0x2c; // ,
    out.set(URI, at);
    at += URI.length;
    if (view.uri.startsWith(shared)) {
      out.set(sharedBytes, at);
      at = putPlain(out, at + sharedBytes.length, view.uri, shared.length);
    } else {
      at = putPlain(out, at, view.uri, 0);
    }
    out.set(view.tail, at);
    at += view.tail.length;
  });
  if (cursor === undefined) {
    out[at++] = 0x5d; // ]
  } else {
    out.set(CURSOR, at);
    at = putPlain(out, at + CURSOR.length, cursor, 0);
    out[at++] = 0x22; // "
  }
  out[at] = 0x7d; // }
  return out;
}

/**
 * `s` from `from` on, written as a JSON string's content: URIs, CIDs and record keys are printable
 * ASCII without a quote or backslash by their syntax (checked on the way in), so each character is its byte.
 */
function putPlain(out: Uint8Array, at: number, s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) notPlain(s);
    out[at++] = c;
  }
  return at;
}

function assertPlain(s: string, from: number): void {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) notPlain(s);
  }
}

function notPlain(s: string): never {
  throw new Error(`record read: ${JSON.stringify(s)} is not plain ASCII`);
}
