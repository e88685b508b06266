/**
 * The JSON bodies of com.atproto.repo.getRecord and listRecords, written as
 * UTF-8 straight from the values' JSON bytes (the reader's cache holds them so):
 * no text is built to be encoded again, and a page is one buffer.
 */

/** A record as the record reads answer it; `value` is the UTF-8 text of its JSON form (cbor-json.ts). */
export interface RecordView {
  uri: string;
  cid: string;
  value: Uint8Array;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();
const URI = utf8.encode('{"uri":"');
const CID = utf8.encode('","cid":"');
const VALUE = utf8.encode('","value":');
const RECORDS = utf8.encode('{"records":[');
const CURSOR = utf8.encode('],"cursor":"');

/** A record's value as data (JSON.parse of its text). */
export function recordValue(view: RecordView): unknown {
  return JSON.parse(text.decode(view.value));
}

/** getRecord's answer: `{uri, cid, value}`. */
export function recordBody(view: RecordView): Uint8Array {
  const out = new Uint8Array(recordSize(view));
  putRecord(out, 0, view);
  return out;
}

/** listRecords' answer: `{records, cursor?}`. */
export function pageBody(records: readonly RecordView[], cursor?: string): Uint8Array {
  let size = RECORDS.length + Math.max(records.length - 1, 0) + (cursor === undefined ? 2 : CURSOR.length + cursor.length + 2);
  for (const view of records) size += recordSize(view);
  const out = new Uint8Array(size);
  out.set(RECORDS);
  let at = RECORDS.length;
  records.forEach((view, i) => {
    if (i > 0) out[at++] = 0x2c; // ,
    at = putRecord(out, at, view);
  });
  if (cursor === undefined) {
    out[at++] = 0x5d; // ]
  } else {
    out.set(CURSOR, at);
    at = putPlain(out, at + CURSOR.length, cursor);
    out[at++] = 0x22; // "
  }
  out[at] = 0x7d; // }
  return out;
}

function recordSize(view: RecordView): number {
  return URI.length + view.uri.length + CID.length + view.cid.length + VALUE.length + view.value.length + 1;
}

function putRecord(out: Uint8Array, at: number, view: RecordView): number {
  out.set(URI, at);
  at = putPlain(out, at + URI.length, view.uri);
  out.set(CID, at);
  at = putPlain(out, at + CID.length, view.cid);
  out.set(VALUE, at);
  out.set(view.value, at + VALUE.length);
  at += VALUE.length + view.value.length;
  out[at] = 0x7d; // }
  return at + 1;
}

/**
 * A URI, CID or record key, written as the JSON string's content: their syntax (checked on the
 * way in) is printable ASCII without a quote or backslash, so each character is its byte.
 */
function putPlain(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) throw new Error(`record read: ${JSON.stringify(s)} is not plain ASCII`);
    out[at++] = c;
  }
  return at;
}
