import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { PayloadTooLargeError } from "@/errors";
import { SNIFF_BYTES } from "./sniff";

/** Multicodec of raw bytes and of SHA-256: a blob's CID is CIDv1 raw sha-256. */
const RAW_CODEC = 0x55;
const SHA256_CODE = 0x12;

export class BlobTooLargeError extends PayloadTooLargeError {
  constructor(limit: number) {
    super(`Blob exceeds the upload limit of ${limit} bytes`, "BlobTooLarge");
  }
}

/** The CID of a blob whose SHA-256 digest is `digest`. */
export function blobCid(digest: Uint8Array): CID {
  return CID.createV1(RAW_CODEC, Digest.create(SHA256_CODE, digest));
}

/**
 * Wrap an upload body so that, while the blob store streams it, it is hashed,
 * counted, and cut off with 413 BlobTooLarge the moment it passes `limit`
 * (the store then removes what it wrote). `result()` is valid once the store
 * has consumed the whole source.
 */
export function measuredSource(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, limit: number) {
  const hash = createHash("sha256");
  let size = 0;
  let head = new Uint8Array(0);
  async function* source(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > limit) throw new BlobTooLargeError(limit);
      hash.update(chunk);
      if (head.length < SNIFF_BYTES) {
        const next = new Uint8Array(Math.min(SNIFF_BYTES, head.length + chunk.byteLength));
        next.set(head);
        next.set(chunk.subarray(0, next.length - head.length), head.length);
        head = next;
      }
      yield chunk;
    }
  }
  return {
    source: source(),
    result: () => ({ cid: blobCid(new Uint8Array(hash.digest())), size, head }),
  };
}
