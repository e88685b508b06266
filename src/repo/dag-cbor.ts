import { createHash } from "node:crypto";
import { encode } from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";

/**
 * DAG-CBOR for the repo write path: records, MST nodes and commits.
 *
 * This first version wraps @ipld/dag-cbor so that the API is fixed for its
 * callers; a hand-written encoder replaces it behind the same names.
 */

/** Multicodec code of dag-cbor. */
export const DAG_CBOR_CODE = 0x71;
/** Multihash code of sha2-256. */
export const SHA2_256_CODE = 0x12;

/** DAG-CBOR bytes of a data-model value; throws on what the data model forbids. */
export function encodeDagCbor(value: unknown): Uint8Array {
  return encode(value);
}

/** Binary CIDv1 (dag-cbor, sha2-256) of DAG-CBOR bytes. */
export function cidBytesForDagCbor(bytes: Uint8Array): Uint8Array {
  return cidForDagCbor(bytes).bytes;
}

/** CIDv1 (dag-cbor, sha2-256) of DAG-CBOR bytes. */
export function cidForDagCbor(bytes: Uint8Array): CID {
  const hash = new Uint8Array(createHash("sha256").update(bytes).digest());
  return CID.createV1(DAG_CBOR_CODE, createDigest(SHA2_256_CODE, hash));
}
