import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import { blobCid } from "@/blob/upload";
import { PluginError } from "@/errors";

/** Whether bytes hashing to CID `actual` (CIDv1 raw sha-256) are the content `expected` names (any codec, same multihash). */
export function sameContent(actual: string, expected: string): boolean {
  if (actual === expected) return true;
  try {
    return Buffer.from(CID.parse(expected).multihash.bytes).equals(Buffer.from(CID.parse(actual).multihash.bytes));
  } catch {
    return false;
  }
}

/** The CID (CIDv1 raw) of a finished SHA-256 hash. */
export function cidOfHash(hash: ReturnType<typeof createHash>): string {
  return blobCid(new Uint8Array(hash.digest())).toString();
}

/**
 * Pass `stream` through, hashing it; at its end the stream errors (a
 * PluginError of `plugin`) when the bytes do not hash to `cid`, so a blob
 * damaged in a backup fails the restore instead of being copied.
 */
export function verifiedStream(stream: ReadableStream<Uint8Array>, cid: string, plugin: string): ReadableStream<Uint8Array> {
  const hash = createHash("sha256");
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        controller.enqueue(chunk);
      },
      flush(controller) {
        if (!sameContent(cidOfHash(hash), cid)) {
          controller.error(new PluginError(plugin, `blob ${cid} in the backup is damaged: its bytes no longer hash to its CID`));
        }
      },
    }),
  );
}
