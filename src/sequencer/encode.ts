import * as dagCbor from "@ipld/dag-cbor";
import { encodeDagCbor } from "@/repo/dag-cbor";
import { CID } from "multiformats/cid";
import type { AccountStatus, CidInput, CommitEventInput, RepoOpInput } from "./types";

/**
 * Event bodies as stored in `repo_seq.event`: the lexicon object without
 * `seq` (the database assigns it on insert; readers add it when they build a
 * frame), DAG-CBOR encoded. The builders leave out `time` too: the sequencer
 * sets it under the seq lock. Inputs are checked here, inside the writing
 * transaction, so a malformed event rolls the write back instead of
 * poisoning the stream for every consumer.
 */

/** The lexicon's limits on a #commit and a #sync. */
export const MAX_COMMIT_OPS = 200;
export const MAX_COMMIT_BLOCKS_BYTES = 2_000_000;
export const MAX_SYNC_BLOCKS_BYTES = 10_000;

/** A write path handed the sequencer an event that breaks the protocol: a bug in the caller. */
export class SequencerInputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(`sequencer: ${message}`, options);
    this.name = "SequencerInputError";
  }
}

const DID = /^did:[a-z]+:[a-zA-Z0-9._:%-]+$/;
const TID = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

export function commitBody(input: CommitEventInput): Record<string, unknown> {
  checkDid(input.repo);
  checkTid(input.rev, "rev");
  if (input.since !== null) checkTid(input.since, "since");
  if (input.ops.length > MAX_COMMIT_OPS) fail(`a commit carries at most ${MAX_COMMIT_OPS} ops, got ${input.ops.length}`);
  if (input.blocks.byteLength > MAX_COMMIT_BLOCKS_BYTES) {
    fail(`commit blocks are at most ${MAX_COMMIT_BLOCKS_BYTES} bytes, got ${input.blocks.byteLength}`);
  }
  const commit = toCid(input.commit, "commit");
  checkCarRoot(input.blocks, commit);
  const body: Record<string, unknown> = {
    repo: input.repo,
    commit,
    rev: input.rev,
    since: input.since,
    blocks: input.blocks,
    ops: input.ops.map(op),
    // Still required by the lexicon; Sync 1.1 never sets them.
    rebase: false,
    tooBig: false,
    blobs: [],
  };
  if (input.prevData) body.prevData = toCid(input.prevData, "prevData");
  else if (input.since !== null) fail("prevData is required once a repository has a previous commit (since is set)");
  return body;
}

export function identityBody(did: string, handle: string | undefined): Record<string, unknown> {
  checkDid(did);
  if (handle !== undefined && !/^[a-zA-Z0-9.-]{1,253}$/.test(handle)) fail(`not a handle: ${JSON.stringify(handle)}`);
  return handle === undefined ? { did } : { did, handle };
}

export function accountBody(did: string, active: boolean, status: AccountStatus | undefined): Record<string, unknown> {
  checkDid(did);
  if (active && status !== undefined) fail("an active account has no status");
  return status === undefined ? { did, active } : { did, active, status };
}

export function syncBody(did: string, commitCid: CidInput, rev: string, blocks: Uint8Array): Record<string, unknown> {
  checkDid(did);
  checkTid(rev, "rev");
  if (blocks.byteLength > MAX_SYNC_BLOCKS_BYTES) fail(`sync blocks are at most ${MAX_SYNC_BLOCKS_BYTES} bytes, got ${blocks.byteLength}`);
  checkCarRoot(blocks, toCid(commitCid, "commit"));
  return { did, blocks, rev };
}

export function encodeBody(body: Record<string, unknown>): Uint8Array {
  return encodeDagCbor(body);
}

/** `time` as `new Date().toISOString()` writes it (years 1000-9999): 24 characters. */
const TIME_SLOT = "0000-00-00T00:00:00.000Z";
const OTHER_SLOT = "1111-11-11T11:11:11.111Z";

/** DAG-CBOR of the map entry `time: TIME_SLOT`: the key (text of 4), then the value (text of 24). */
const TIME_ENTRY = Buffer.from([0x64, ...Buffer.from("time"), 0x78, 24, ...Buffer.from(TIME_SLOT)]);

/**
 * The body encoded with a placeholder `time`, and the byte offset of that
 * placeholder, for a writer that stamps the time later (the sequencer on
 * PostgreSQL writes the database clock over it under the seq lock). Found by searching for the encoded entry; should the entry
 * occur twice (some other field holding the same bytes), by encoding again
 * with another placeholder and taking the first byte that differs.
 */
export function encodeWithTimeSlot(body: Record<string, unknown>): { bytes: Uint8Array; at: number } {
  const bytes = encodeBody({ ...body, time: TIME_SLOT });
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entry = view.indexOf(TIME_ENTRY);
  if (entry >= 0 && view.indexOf(TIME_ENTRY, entry + 1) < 0) return { bytes, at: entry + TIME_ENTRY.length - TIME_SLOT.length };
  const other = encodeBody({ ...body, time: OTHER_SLOT });
  let at = 0;
  while (bytes[at] === other[at]) at++;
  return { bytes, at };
}

/** Re-read a CID of any multiformats version (or a string) as this package's CID. */
export function toCid(input: CidInput, what: string): CID {
  try {
    return typeof input === "string" ? CID.parse(input) : CID.decode(input.bytes);
  } catch (cause) {
    throw new SequencerInputError(`${what} is not a CID`, { cause });
  }
}

function op(input: RepoOpInput, index: number): Record<string, unknown> {
  const where = `ops[${index}]`;
  if (!/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._:~-]+$/.test(input.path)) fail(`${where}.path must be collection/rkey, got ${JSON.stringify(input.path)}`);
  const wantsCid = input.action !== "delete";
  const wantsPrev = input.action !== "create";
  if (!["create", "update", "delete"].includes(input.action)) fail(`${where}.action: unknown action ${JSON.stringify(input.action)}`);
  if (wantsCid !== (input.cid !== null)) fail(`${where}: ${input.action} ${wantsCid ? "needs" : "has no"} cid`);
  if (wantsPrev !== (input.prev != null)) fail(`${where}: ${input.action} ${wantsPrev ? "needs" : "has no"} prev`);
  const out: Record<string, unknown> = {
    action: input.action,
    path: input.path,
    cid: input.cid === null ? null : toCid(input.cid, `${where}.cid`),
  };
  if (input.prev != null) out.prev = toCid(input.prev, `${where}.prev`);
  return out;
}

/** The CAR's first root must be the commit (lexicon: "the commit block CID must be the first entry in roots"). */
function checkCarRoot(car: Uint8Array, commit: CID): void {
  let root: CID | null;
  try {
    const [length, offset] = readVarint(car, 0);
    const header = dagCbor.decode<{ version?: unknown; roots?: unknown }>(car.subarray(offset, offset + length));
    if (header?.version !== 1 || !Array.isArray(header.roots)) throw new Error("no CARv1 header");
    root = CID.asCID(header.roots[0]);
  } catch (cause) {
    throw new SequencerInputError("blocks is not a CAR file", { cause });
  }
  if (!root || !root.equals(commit)) fail(`the CAR's first root must be the commit ${commit}, got ${root ?? "none"}`);
}

function readVarint(bytes: Uint8Array, start: number): [value: number, next: number] {
  let value = 0;
  for (let i = start, shift = 0; i < bytes.length && shift < 35; i++, shift += 7) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, i + 1];
  }
  throw new Error("truncated varint");
}

function checkDid(did: string): void {
  if (!DID.test(did)) fail(`not a DID: ${JSON.stringify(did)}`);
}

function checkTid(value: string, what: string): void {
  if (!TID.test(value)) fail(`${what} must be a TID, got ${JSON.stringify(value)}`);
}

function fail(message: string): never {
  throw new SequencerInputError(message);
}
