import { LruCache } from "@/util/lru-cache";
import type { StoredNode } from "./node";

/**
 * Decoded blocks by CID string, least recently used dropped first (as LruCache approximates it), bounded
 * in count and in (estimated) bytes. Shared by every repository of the
 * process: a block is addressed by the hash of its content, so whatever store
 * or cluster node it came from, the same CID is the same block.
 */
export class BlockCache<T extends { bytes: Uint8Array }> extends LruCache<T> {
  constructor(maxNodes: number, maxBytes: number) {
    super(maxNodes, maxBytes, weight);
  }
}

/**
 * The stored bytes plus the decoded keys and CID objects next to them: measured (bench/memory.ts
 * --probe), the live heap grew about three times what `bytes * 3 + 200` estimated per cached node.
 */
function weight(node: { bytes: Uint8Array }): number {
  return node.bytes.length * 9 + 600;
}

export type NodeCache = BlockCache<StoredNode>;

/**
 * The process-wide cache of decoded MST nodes: at most 10,000 and about 32 MiB of heap — the hot paths
 * of the repositories being written; a miss costs one query per tree level.
 */
export const nodeCache: NodeCache = new BlockCache<StoredNode>(10_000, 32 * 1024 * 1024);
