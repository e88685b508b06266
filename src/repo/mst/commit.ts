import { TID } from "@atproto/common-web";
import { decode } from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { cidForDagCbor } from "@/repo/dag-cbor-cid";
import { encodeDagCbor } from "@/repo/dag-cbor";
import { BlockCache, type NodeCache } from "./cache";
import { cidToString } from "./cid";
import { encodeNode } from "./node";
import { type BlockSource, MstEdit } from "./tree";

/** One record write of a commit, its record already encoded (`cid` is the CID of `bytes`). */
export type MstWrite =
  | { action: "create" | "update"; key: string; cid: CID; bytes: Uint8Array }
  | { action: "delete"; key: string };

/** The commit a repository is at. */
export interface RepoHead {
  cid: CID;
  rev: string;
  /** Root of its MST. */
  data: CID;
}

/** A signed commit and the blocks it changes, as @atproto/repo's `formatCommit` / `formatInitCommit` give them. */
export interface BuiltCommit {
  cid: CID;
  rev: string;
  /** Rev of the commit this one follows (null for the first). */
  since: string | null;
  /** CID of the commit this one follows (null for the first). */
  prev: CID | null;
  /** MST root of the new commit. */
  data: CID;
  /** By CID string: the commit, the new MST nodes, the new record blocks. */
  newBlocks: Map<string, Uint8Array>;
  /** By CID string: the commit, the records of the ops and the covering proof of every op in the new tree. */
  relevantBlocks: Map<string, Uint8Array>;
  /** CID strings of the blocks no longer reachable: the previous commit, MST nodes and records. */
  removedCids: Set<string>;
  /** The record CIDs among `removedCids` (another record with the same content may still use one). */
  removedRecords: string[];
}

/** Something that signs bytes, as an @atproto/crypto Keypair does. */
export interface Signer {
  sign(bytes: Uint8Array): Promise<Uint8Array>;
}

interface DecodedCommit {
  cid: CID;
  bytes: Uint8Array;
  did: string;
  rev: string;
  data: CID;
}

/** Decoded commits by CID (the next write of a repository reads the one the last wrote). */
const commitCache = new BlockCache<DecodedCommit>(20_000, 16 * 1024 * 1024);

/** The head of a repository from its commit block `cid` (a CID string; read through `source` unless cached). */
export async function readHead(source: BlockSource, s: string): Promise<RepoHead & { did: string }> {
  let commit = commitCache.get(s);
  if (!commit) {
    const bytes = (await source([s])).get(s);
    if (!bytes) throw new Error(`Missing commit block: ${s}`);
    const raw = decode(bytes) as { did?: unknown; rev?: unknown; data?: unknown };
    const data = CID.asCID(raw?.data);
    if (typeof raw?.did !== "string" || typeof raw.rev !== "string" || !data) throw new Error(`Not a commit: ${s}`);
    commit = { cid: CID.parse(s), bytes, did: raw.did, rev: raw.rev, data };
    commitCache.set(s, commit);
  }
  return { cid: commit.cid, rev: commit.rev, data: commit.data, did: commit.did };
}

/**
 * Apply `writes` to the MST of `head` — or, with `head` null, to the empty
 * tree of a new repository — and sign the v3 commit over the result:
 * `{did, version: 3, data, rev, prev: null, sig}` (`prev` stays null in v3,
 * kept for v2 readers), rev the next TID after the head's (`opts.rev` to
 * choose it, `opts.cache` for another node cache than the process's).
 */
export async function buildCommit(
  source: BlockSource,
  did: string,
  head: RepoHead | null,
  writes: readonly MstWrite[],
  signer: Signer,
  opts: { rev?: string; cache?: NodeCache } = {},
): Promise<BuiltCommit> {
  const edit = head ? await MstEdit.load(source, head.data, opts.cache) : MstEdit.empty(source, opts.cache);
  if (head) await edit.prefetch(writes.map((w) => w.key));
  for (const w of writes) {
    if (w.action === "create") await edit.insert(w.key, w.cid);
    else if (w.action === "update") await edit.update(w.key, w.cid);
    else await edit.delete(w.key);
  }
  const diff = edit.finish();

  // Record blocks, by the same rules as @atproto/repo's DataDiff walking the keys in order.
  const newLeaves = new Set<string>();
  const removedCids = new Set<string>(diff.removedNodes);
  for (const { before, after } of diff.changes) {
    const b = (before ? cidToString(before) : undefined);
    const a = (after ? cidToString(after) : undefined);
    if (b && a) {
      removedCids.add(b);
      newLeaves.add(a);
    } else if (b) {
      if (newLeaves.has(b)) newLeaves.delete(b);
      else removedCids.add(b);
    } else if (a) {
      if (removedCids.has(a)) removedCids.delete(a);
      else newLeaves.add(a);
    }
  }
  const removedRecords = new Set<string>();
  for (const { before } of diff.changes) {
    const b = (before ? cidToString(before) : undefined);
    if (b && removedCids.has(b)) removedRecords.add(b);
  }
  const recordBytes = new Map<string, Uint8Array>();
  for (const w of writes) if (w.action !== "delete") recordBytes.set(cidToString(w.cid), w.bytes);
  const leaves = new Map<string, Uint8Array>();
  for (const cid of newLeaves) {
    const bytes = recordBytes.get(cid);
    if (!bytes) throw new Error(`Missing leaf block: ${cid}`);
    leaves.set(cid, bytes);
  }

  const rev = opts.rev ?? (head ? TID.nextStr(head.rev) : TID.nextStr());
  const unsigned = { did, version: 3, data: diff.root, rev, prev: null };
  const sig = await signer.sign(encodeDagCbor(unsigned));
  const commitBytes = encodeDagCbor({ ...unsigned, sig });
  const cid = cidForDagCbor(commitBytes);
  const cidString = cidToString(cid);
  commitCache.set(cidString, { cid, bytes: commitBytes, did, rev, data: diff.root });

  const newBlocks = new Map<string, Uint8Array>(diff.newNodes);
  for (const [c, bytes] of leaves) newBlocks.set(c, bytes);
  if (!head) {
    // The first commit: every node of the new tree is new, the empty root node of no writes included.
    const rootString = cidToString(diff.root);
    if (!newBlocks.has(rootString) && writes.length === 0) newBlocks.set(rootString, encodeNode(null, []).bytes);
    newBlocks.set(cidString, commitBytes);
    // Nothing was stored before (the empty root the edit started from included), so nothing is removed.
    return { cid, rev, since: null, prev: null, data: diff.root, newBlocks, relevantBlocks: newBlocks, removedCids: new Set(), removedRecords: [] };
  }

  const relevantBlocks = new Map<string, Uint8Array>();
  for (const w of writes) await edit.coveringProof(w.key, relevantBlocks);
  // Every record an op writes, whether or not its block is new to the repository (another key may
  // hold the same content): a consumer reads the records of the ops from this diff. @atproto/repo
  // puts only the new ones here, the same set unless records of one commit share content.
  for (const [c, bytes] of recordBytes) relevantBlocks.set(c, bytes);
  const headString = cidToString(head.cid);
  if (cidString !== headString) {
    newBlocks.set(cidString, commitBytes);
    relevantBlocks.set(cidString, commitBytes);
    removedCids.add(headString);
  }
  return { cid, rev, since: head.rev, prev: head.cid, data: diff.root, newBlocks, relevantBlocks, removedCids, removedRecords: [...removedRecords] };
}
