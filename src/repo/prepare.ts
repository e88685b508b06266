import { CID } from "multiformats/cid";
import { InvalidRequestError } from "@/errors";
import { type DataMap, findBlobRefs, jsonToDataMap } from "@/lexicon/data-model";
import { assertBlobFits } from "@/lexicon/blob-constraints";
import { assertNsid, assertRecordKey, recordUri } from "@/lexicon/syntax";
import type { RecordValidator, ValidateMode } from "@/lexicon/validator";
import { cidForDagCbor } from "@/repo/dag-cbor-cid";
import { encodeDagCbor } from "@/repo/dag-cbor";
import { MAX_COMMIT_BLOCKS_BYTES } from "@/sequencer/encode";
import { nextTid } from "./tid";
import type { PreparedBlobRef, PreparedCreate, PreparedDelete, PreparedUpdate, PreparedWrite } from "./types";

/**
 * Turn client input into checked writes, before any lock is taken: syntax,
 * `$type`, the data model, the lexicon, the record CID and the blobs the
 * record refers to. Everything here fails with 400 InvalidRequest naming the
 * field; checks that need the database (blobs exist, swaps) happen in the
 * write transaction.
 */

export interface RecordInput {
  collection: string;
  rkey?: string;
  record: unknown;
  validate?: ValidateMode;
  swapRecord?: string | null;
}

export async function prepareCreate(validator: RecordValidator, did: string, input: RecordInput): Promise<PreparedCreate> {
  assertNsid(input.collection, "collection");
  const rkey = input.rkey ?? validator.literalKey(input.collection) ?? nextTid();
  return { action: "create", ...(await prepareRecord(validator, did, { ...input, rkey })) };
}

export async function prepareUpdate(
  validator: RecordValidator,
  did: string,
  input: RecordInput & { rkey: string; upsert?: boolean },
): Promise<PreparedUpdate> {
  assertNsid(input.collection, "collection");
  return { action: "update", upsert: input.upsert, ...(await prepareRecord(validator, did, input)) };
}

export function prepareDelete(
  did: string,
  input: { collection: string; rkey: string; swapRecord?: string | null; ifExists?: boolean },
): PreparedDelete {
  assertNsid(input.collection, "collection");
  assertRecordKey(input.rkey, "rkey");
  return {
    action: "delete",
    uri: recordUri(did, input.collection, input.rkey),
    collection: input.collection,
    rkey: input.rkey,
    swapCid: checkSwap(input.swapRecord, "swapRecord"),
    ifExists: input.ifExists,
  };
}

async function prepareRecord(validator: RecordValidator, did: string, input: RecordInput & { rkey: string }) {
  const { collection, rkey } = input;
  assertRecordKey(rkey, "rkey");
  const record = withType(jsonToDataMap(input.record, "Record"), collection);
  const validationStatus = validator.validate(collection, rkey, record, input.validate);
  const constraints = validationStatus === "valid" ? validator.blobConstraints(collection, record) : new Map();
  const blobs: PreparedBlobRef[] = findBlobRefs(record).map((ref) => {
    const c = constraints.get(ref.path);
    const prepared = { ...ref, constraints: c ? [c] : [] };
    // The declared type and size are checked now; the uploaded blob's own at commit.
    assertBlobFits(ref.path, ref.mimeType, ref.size, prepared.constraints);
    return prepared;
  });
  let bytes: Uint8Array;
  try {
    bytes = encodeDagCbor(record);
  } catch (err) {
    throw new InvalidRequestError(`Record: ${err instanceof Error ? err.message : "not encodable as DAG-CBOR"}`);
  }
  return {
    uri: recordUri(did, collection, rkey),
    collection,
    rkey,
    record,
    bytes,
    cid: cidForDagCbor(bytes),
    blobs,
    validationStatus,
    swapCid: checkSwap(input.swapRecord, "swapRecord"),
  };
}

/** `$type` names the record's lexicon: it must be the collection; a record without one gets it. */
function withType(record: DataMap, collection: string): DataMap {
  if (record.$type === undefined) return { $type: collection, ...record };
  if (record.$type !== collection) {
    throw new InvalidRequestError(`Invalid Record/$type: expected ${collection}, got ${String(record.$type)}`);
  }
  return record;
}

/** A swap CID must at least parse; whether it matches is decided under the repo lock. */
export function checkSwap(value: string | null | undefined, field: string): string | null | undefined {
  if (value === undefined || value === null) return value;
  try {
    return CID.parse(value).toString();
  } catch {
    throw new InvalidRequestError(`Invalid ${field}: not a CID: ${value.slice(0, 100)}`);
  }
}

/**
 * Room a commit's #commit event needs besides the record blocks: the commit
 * block and CAR framing (fixed), and per write the MST nodes of its proof path
 * (a handful of nodes of a few hundred bytes each, even in a large repository).
 */
const COMMIT_OVERHEAD_BYTES = 4 * 1024;
const PROOF_BYTES_PER_WRITE = 2 * 1024;

/**
 * 400 before anything is locked or written when the records of one commit
 * would not fit in a #commit event (the lexicon's 2,000,000 bytes of blocks):
 * relays would drop such a commit, so the reference refuses it too.
 */
export function assertCommitFits(writes: readonly PreparedWrite[]): void {
  let bytes = COMMIT_OVERHEAD_BYTES;
  for (const w of writes) {
    bytes += PROOF_BYTES_PER_WRITE;
    if (w.action !== "delete") bytes += w.bytes.byteLength;
  }
  if (bytes > MAX_COMMIT_BLOCKS_BYTES) {
    throw new InvalidRequestError(`Commit too large: about ${bytes} bytes of blocks, at most ${MAX_COMMIT_BLOCKS_BYTES} fit in one commit event`);
  }
}
