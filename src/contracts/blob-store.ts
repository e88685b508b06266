import { randomBytes } from "node:crypto";
import { InvalidRequestError, XrpcError } from "@/errors";
import type { Plugin } from "./plugin";

/**
 * Blob storage backend (plugins/storage-disk, plugins/storage-s3).
 *
 * Life of a blob: `putTemp` streams an upload to a random temporary key (the
 * core wraps the source to hash it and enforce the size limit); when a
 * committed record references it, `makePermanent` files it under (did, cid).
 * Temporary blobs nobody claims are removed by `sweepTemp`. A quarantined blob
 * (takedown) keeps its bytes but is not served, listed or re-published until
 * `unquarantine`; only `getQuarantined` reads them, so a move or a backup can
 * carry them to another store and quarantine them there.
 *
 * Not-found rules, the same for every backend:
 * - `stat` answers `null` for a missing blob (it is the existence check);
 * - `get`, `getQuarantined`, `makePermanent`, `quarantine`, `unquarantine`
 *   throw `BlobNotFoundError`;
 * - `delete`, `deleteTemp` are idempotent: deleting what is gone succeeds.
 *
 * Every DID, CID and temp key is checked by the plugin against the strict
 * patterns below before any path or object key is built from it; a bad one
 * throws `InvalidBlobRefError` without touching storage.
 */
export interface BlobStorePlugin extends Plugin<"blobs"> {
  /** Blobs are visible to every node (object storage), not only this one. */
  readonly shared: boolean;
  readonly capabilities: BlobStoreCapabilities;
  /**
   * Stream `source` to a new temporary key. If `source` throws, whatever was
   * written is removed and the source's own error is rethrown unchanged.
   */
  putTemp(source: BlobSource): Promise<{ key: string; size: number }>;
  deleteTemp(key: string): Promise<void>;
  /**
   * File temp blob `key` as (did, cid) and drop the temp copy. Idempotent: when
   * the temp key is gone but (did, cid) is already stored, it succeeds. A blob
   * that is quarantined stays quarantined (the new copy is discarded).
   */
  makePermanent(key: string, did: string, cid: string): Promise<void>;
  /** Stream a stored, unquarantined blob. Callers must consume or cancel `stream`. */
  get(did: string, cid: string, range?: BlobRange): Promise<BlobRead>;
  /**
   * Stream the whole quarantined copy of a blob (never served to users: for
   * moves and backups, which must carry taken-down bytes along). Throws
   * `BlobNotFoundError` when (did, cid) has no quarantined copy, even if it is
   * stored unquarantined. Callers must consume or cancel `stream`.
   */
  getQuarantined(did: string, cid: string): Promise<BlobRead>;
  stat(did: string, cid: string): Promise<BlobStat | null>;
  /** A DID's servable (not quarantined) blobs, ordered by CID. */
  list(did: string, options?: { cursor?: string; limit?: number }): Promise<BlobPage>;
  /** Remove blobs, quarantined copies included (account deletion passes many). */
  delete(did: string, cids: readonly string[]): Promise<void>;
  quarantine(did: string, cid: string): Promise<void>;
  unquarantine(did: string, cid: string): Promise<void>;
  /** Delete temp blobs (finished or abandoned mid-write) created more than `olderThanMs` ago; returns how many. */
  sweepTemp(olderThanMs: number): Promise<number>;
}

/** The methods a blob store plugin must have beyond the lifecycle; checked when the config loads. */
export const BLOB_STORE_METHODS = [
  "putTemp",
  "deleteTemp",
  "makePermanent",
  "get",
  "getQuarantined",
  "stat",
  "list",
  "delete",
  "quarantine",
  "unquarantine",
  "sweepTemp",
] as const satisfies readonly (keyof BlobStorePlugin)[];

export interface BlobStoreCapabilities {
  /** `get` honours `range`; when false it ignores it and returns the whole blob (check `start`/`end`). */
  readonly ranges: boolean;
}

/**
 * What an upload reads from: a web ReadableStream, a Node Readable or a
 * generator. A chunk must not be changed after it is yielded (backends may
 * hold it until a whole part is sent).
 */
export type BlobSource = AsyncIterable<Uint8Array>;

/** Byte range like HTTP's `Range: bytes=start-end`: `end` is inclusive and clamped to the last byte. */
export interface BlobRange {
  start: number;
  end?: number;
}

export interface BlobRead {
  /** Size of the whole blob in bytes. */
  size: number;
  /** First and last (inclusive) byte carried by `stream`; `end` is -1 for an empty blob. */
  start: number;
  end: number;
  stream: ReadableStream<Uint8Array>;
}

export interface BlobStat {
  size: number;
  quarantined: boolean;
}

export interface BlobPage {
  cids: string[];
  /** Pass back to get the next page; absent on the last page. */
  cursor?: string;
}

/** Page size of `list` when none is given, and its ceiling. */
export const BLOB_LIST_DEFAULT_LIMIT = 500;
export const BLOB_LIST_MAX_LIMIT = 1000;

/** Missing blob or temp key. XRPC-shaped so a handler may let it through as `BlobNotFound`. */
export class BlobNotFoundError extends XrpcError {
  constructor(readonly ref: string) {
    super(400, "BlobNotFound", `Blob not found: ${ref}`);
    this.name = "BlobNotFoundError";
  }
}

/** A range that starts past the end; the handler answers 416 with `Content-Range: bytes *\/size`. */
export class BlobRangeError extends XrpcError {
  constructor(readonly size: number) {
    super(416, "InvalidRange", `Range not satisfiable for a blob of ${size} bytes`);
    this.name = "BlobRangeError";
  }
}

/** A DID, CID or temp key that fails the strict patterns; nothing was read or written. */
export class InvalidBlobRefError extends InvalidRequestError {
  constructor(what: string, value: unknown) {
    super(`Invalid ${what}: ${JSON.stringify(String(value).slice(0, 80))}`);
    this.name = "InvalidBlobRefError";
  }
}

// Only the DID methods a PDS hosts. Neither pattern admits "/", "\", NUL or an
// empty/dot-only label, so a DID can be one path segment or key segment as is.
const DID_PLC = /^did:plc:[a-z2-7]{24}$/;
const HOST_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
const DID_WEB = new RegExp(`^did:web:${HOST_LABEL}(?:\\.${HOST_LABEL})*(?:%3[aA][0-9]{1,5})?$`);
/** Fits one file name (255 bytes) with room to spare. */
const DID_MAX = 240;

// CIDv1 in base32 (multibase "b"), or a legacy CIDv0 in base58btc.
const CID_V1 = /^b[a-z2-7]{50,120}$/;
const CID_V0 = /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/;

// Creation time (ms, 12 hex digits, so keys sort by age) + 128 random bits.
const TEMP_KEY = /^([0-9a-f]{12})-[0-9a-f]{32}$/;

export function assertDid(did: unknown): asserts did is string {
  if (typeof did !== "string" || did.length > DID_MAX || !(DID_PLC.test(did) || DID_WEB.test(did))) {
    throw new InvalidBlobRefError("DID", did);
  }
}

export function assertCid(cid: unknown): asserts cid is string {
  if (typeof cid !== "string" || !(CID_V1.test(cid) || CID_V0.test(cid))) throw new InvalidBlobRefError("CID", cid);
}

export function assertTempKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || !TEMP_KEY.test(key)) throw new InvalidBlobRefError("temp key", key);
}

/** A fresh temp key; backends encode its creation time so sweeping needs no extra metadata. */
export function newTempKey(now = Date.now()): string {
  return `${now.toString(16).padStart(12, "0")}-${randomBytes(16).toString("hex")}`;
}

/** Creation time of a temp key, or null when `key` is not one. */
export function tempKeyTime(key: string): number | null {
  const match = TEMP_KEY.exec(key);
  return match?.[1] ? Number.parseInt(match[1], 16) : null;
}

/** `list` page size from a caller's `limit`. */
export function listLimit(limit: number | undefined): number {
  if (limit === undefined) return BLOB_LIST_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidRequestError(`Invalid list limit: ${limit}`);
  return Math.min(limit, BLOB_LIST_MAX_LIMIT);
}

/**
 * Resolve `range` against a blob of `size` bytes: the inclusive [start, end]
 * to send. No range means the whole blob ([0, -1] when empty).
 */
export function resolveRange(size: number, range: BlobRange | undefined): { start: number; end: number } {
  if (!range) return { start: 0, end: size - 1 };
  assertRange(range);
  if (range.start >= size) throw new BlobRangeError(size);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

/** A range must be non-negative integers with `end` (when given) not before `start`. */
export function assertRange({ start, end }: BlobRange): void {
  if (!Number.isInteger(start) || start < 0 || (end !== undefined && (!Number.isInteger(end) || end < start))) {
    throw new InvalidRequestError("Invalid byte range");
  }
}
