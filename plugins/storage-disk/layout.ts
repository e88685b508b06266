import { createHash } from "node:crypto";
import { join } from "node:path";
import { assertCid, assertDid, assertTempKey } from "@/plugin-kit";

/**
 * Where each blob lives under the blob root. Every path is built from a DID,
 * CID or temp key that passed the contract's strict patterns first, so no
 * input can climb out of the root.
 *
 *   blocks/<2 hex of sha256(did)>/<did>/<2 chars of cid>/<cid>
 *   quarantine/<same>
 *   tmp/<temp key>            (tmp/<temp key>.part while being written)
 *
 * The DID hash spreads accounts over 256 directories; the CID shard spreads
 * one account's blobs over up to 1024, so no directory grows without bound.
 * tmp/ sits on the same filesystem as blocks/, which makes rename atomic.
 */
export const BLOCKS = "blocks";
export const QUARANTINE = "quarantine";
export const TMP = "tmp";
export const PART_SUFFIX = ".part";

export function didDir(root: string, area: typeof BLOCKS | typeof QUARANTINE, did: string): string {
  assertDid(did);
  return join(root, area, didShard(did), did);
}

export function blobPath(root: string, area: typeof BLOCKS | typeof QUARANTINE, did: string, cid: string): string {
  assertCid(cid);
  return join(didDir(root, area, did), cidShard(cid), cid);
}

export function tempPath(root: string, key: string): string {
  assertTempKey(key);
  return join(root, TMP, key);
}

export function didShard(did: string): string {
  return createHash("sha256").update(did).digest("hex").slice(0, 2);
}

/**
 * Two characters just before the last: the very last base32 character of a
 * 36-byte CIDv1 carries only 3 bits (8 values), the two before it 5 bits each.
 */
export function cidShard(cid: string): string {
  return cid.slice(-3, -1);
}
