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
  const body = decodeCbor<Record<string, unknown>>(row.event);
  body.seq = row.seq;
  const event = { seq: row.seq, type: row.event_type, frame: messageFrame(row.event_type, body), did: row.did };
  return row.event_type === "account" && body.status === "deleted" ? { ...event, deletesAccount: true } : event;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
