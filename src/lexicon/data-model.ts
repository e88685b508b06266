import { CID } from "multiformats/cid";
import { InvalidRequestError } from "@/errors";

/**
 * The atproto data model (https://atproto.com/specs/data-model) in its two
 * encodings: JSON as clients send it (`$link`, `$bytes`, blob objects) and the
 * in-memory IPLD form that DAG-CBOR encodes (CID objects, Uint8Array).
 * Converting JSON checks everything the data model forbids: floats, integers
 * JS cannot hold exactly, malformed `$link`/`$bytes`/blob objects and bad
 * `$type` values. Errors name the field, like the lexicon validator does.
 */

/** A value of the data model in memory. */
export type DataValue = null | boolean | number | string | Uint8Array | CID | DataValue[] | { [key: string]: DataValue };
/** A map of the data model: a record is one. */
export type DataMap = { [key: string]: DataValue };

export class DataModelError extends InvalidRequestError {
  constructor(message: string) {
    super(message);
    this.name = "DataModelError";
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Deepest nesting of arrays and maps we accept. The data model sets no limit,
 * but every walk over a value (this one, the lexicon validator, DAG-CBOR
 * encoding, blob search) recurses, and a body of 100k nested arrays would
 * overflow the stack. Real records nest a handful of levels (app.bsky posts
 * about 6); 128 leaves ample room and keeps every walk far from the stack's end.
 */
export const MAX_DATA_DEPTH = 128;

/** JSON (as parsed by JSON.parse) to the data model; `path` names the value in errors. */
export function jsonToData(value: unknown, path = "Record", depth = 0): DataValue {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new DataModelError(`${path} must be an integer: floats are not in the data model`);
    if (!Number.isSafeInteger(value)) throw new DataModelError(`${path} is an integer too large to represent exactly`);
    return value;
  }
  if (typeof value !== "object") throw new DataModelError(`${path} is not a data model value`);
  // Checked before descending, so the recursion below is bounded by MAX_DATA_DEPTH.
  if (depth >= MAX_DATA_DEPTH) throw new DataModelError(`${path} is nested too deeply: at most ${MAX_DATA_DEPTH} levels of arrays and objects`);
  if (Array.isArray(value)) return value.map((item, i) => jsonToData(item, `${path}/${i}`, depth + 1));
  return objectToData(value as Record<string, unknown>, path, depth);
}

/** A JSON record: an object whose `$type`, when present, is a non-empty string. */
export function jsonToDataMap(value: unknown, path = "Record"): DataMap {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new DataModelError(`${path} must be an object`);
  return jsonToData(value, path) as DataMap;
}

function objectToData(obj: Record<string, unknown>, path: string, depth: number): DataValue {
  const keys = Object.keys(obj);
  if ("$link" in obj) {
    if (keys.length !== 1) throw new DataModelError(`${path}: a $link object has no other fields`);
    return parseLink(obj.$link, path);
  }
  if ("$bytes" in obj) {
    if (keys.length !== 1) throw new DataModelError(`${path}: a $bytes object has no other fields`);
    return parseBytes(obj.$bytes, path);
  }
  if ("$type" in obj) {
    const type = obj.$type;
    if (typeof type !== "string" || type.length === 0) throw new DataModelError(`${path}/$type must be a non-empty string`);
    if (type === "blob") return blobToData(obj, path);
  }
  const out: DataMap = {};
  for (const key of keys) {
    const item = obj[key];
    // JSON never holds undefined; a caller passing an object literal might.
    if (item === undefined) continue;
    out[key] = jsonToData(item, `${path}/${key}`, depth + 1);
  }
  return out;
}

function blobToData(obj: Record<string, unknown>, path: string): DataMap {
  const { ref, mimeType, size } = obj;
  const extra = Object.keys(obj).filter((k) => !["$type", "ref", "mimeType", "size"].includes(k));
  if (extra.length > 0) throw new DataModelError(`${path}: unexpected blob field ${extra[0]}`);
  if (ref === null || typeof ref !== "object" || !("$link" in ref)) throw new DataModelError(`${path}/ref must be a $link`);
  if (typeof mimeType !== "string" || mimeType.length === 0) throw new DataModelError(`${path}/mimeType must be a string`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new DataModelError(`${path}/size must be a non-negative integer`);
  }
  const cid = jsonToData(ref, `${path}/ref`);
  return { $type: "blob", ref: cid, mimeType, size };
}

function parseLink(link: unknown, path: string): CID {
  if (typeof link !== "string") throw new DataModelError(`${path}/$link must be a string`);
  try {
    return CID.parse(link);
  } catch {
    throw new DataModelError(`${path}/$link is not a valid CID`);
  }
}

function parseBytes(bytes: unknown, path: string): Uint8Array {
  if (typeof bytes !== "string" || !BASE64.test(bytes) || bytes.replace(/=+$/, "").length % 4 === 1) {
    throw new DataModelError(`${path}/$bytes must be base64`);
  }
  return new Uint8Array(Buffer.from(bytes, "base64"));
}

/** The data model to JSON: CIDs become `{$link}`, bytes `{$bytes}` (base64 without padding). */
export function dataToJson(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(dataToJson);
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64").replace(/=+$/, "") };
  const cid = CID.asCID(value);
  if (cid) return { $link: cid.toString() };
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = dataToJson(item);
  return out;
}

/** A blob reference found in a record, with where it was found. */
export interface FoundBlobRef {
  cid: CID;
  mimeType: string;
  size: number;
  path: string;
}

/** Every blob reference in a data model value (the typed form; legacy `{cid, mimeType}` refs hold no size and are skipped). */
export function findBlobRefs(value: DataValue, path = "Record", out: FoundBlobRef[] = []): FoundBlobRef[] {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array || CID.asCID(value)) return out;
  if (Array.isArray(value)) {
    value.forEach((item, i) => findBlobRefs(item, `${path}/${i}`, out));
    return out;
  }
  const map = value as DataMap;
  const ref = map.ref ? CID.asCID(map.ref) : null;
  if (map.$type === "blob" && ref && typeof map.mimeType === "string" && typeof map.size === "number") {
    out.push({ cid: ref, mimeType: map.mimeType, size: map.size, path });
    return out;
  }
  for (const [key, item] of Object.entries(map)) findBlobRefs(item, `${path}/${key}`, out);
  return out;
}
