import type { Keypair } from "@atproto/crypto";
import type { CID } from "multiformats/cid";
import type { DbTransaction } from "@/contracts/db";
import type { DataMap } from "@/lexicon/data-model";
import type { BlobConstraint, ValidationStatus } from "@/lexicon/validator";

/** A blob a record refers to, with the lexicon constraints of the field it sits in (none when not validated). */
export interface PreparedBlobRef {
  cid: CID;
  mimeType: string;
  size: number;
  /** Where in the record, e.g. `Record/embed/images/0/image`. */
  path: string;
  constraints: BlobConstraint[];
}

interface PreparedBase {
  uri: string;
  collection: string;
  rkey: string;
  /**
   * swapRecord: `undefined` = no check; `null` = the record must not exist;
   * a CID = the record's current CID must be this one. 400 InvalidSwap otherwise.
   */
  swapCid?: string | null;
}

export interface PreparedCreate extends PreparedBase {
  action: "create";
  record: DataMap;
  /** The record's DAG-CBOR block; `cid` is its CID. */
  bytes: Uint8Array;
  cid: CID;
  blobs: PreparedBlobRef[];
  validationStatus: ValidationStatus;
}

export interface PreparedUpdate extends PreparedBase {
  action: "update";
  record: DataMap;
  /** The record's DAG-CBOR block; `cid` is its CID. */
  bytes: Uint8Array;
  cid: CID;
  blobs: PreparedBlobRef[];
  validationStatus: ValidationStatus;
  /** putRecord: create the record when it does not exist yet; an unchanged record is not rewritten. */
  upsert?: boolean;
}

export interface PreparedDelete extends PreparedBase {
  action: "delete";
  /** deleteRecord: a missing record is not an error, there is just nothing to commit. */
  ifExists?: boolean;
}

export type PreparedWrite = PreparedCreate | PreparedUpdate | PreparedDelete;

/** One record operation of a commit, as the firehose's `#commit.ops` carries it. */
export interface CommitOp {
  action: "create" | "update" | "delete";
  /** `collection/rkey` */
  path: string;
  /** The new record CID; null for deletes. */
  cid: CID | null;
  /** The record CID before the commit (Sync 1.1); null for creates. */
  prev: CID | null;
}

/**
 * Everything a commit changed, as the write path hands it to commit hooks
 * (the sequencer writes the `#commit` event from it in the same transaction).
 */
export interface CommitDetails {
  did: string;
  /** CID of the new signed commit block. */
  cid: CID;
  rev: string;
  /** Rev of the commit this one follows. */
  since: string | null;
  /** CID of the commit this one follows. */
  prev: CID | null;
  /** MST root of the commit this one follows (Sync 1.1 `prevData`). */
  prevData: CID | null;
  /** Blocks this commit added, by CID string: the commit, new MST nodes, new records. */
  newBlocks: Map<string, Uint8Array>;
  /** By CID string: the commit, new records and the MST proofs covering every op: the firehose's `blocks` diff. */
  relevantBlocks: Map<string, Uint8Array>;
  /** CID strings of the blocks this commit made unreachable (deleted from storage). */
  removedCids: Set<string>;
  ops: CommitOp[];
  /** Blobs newly referenced by this commit's records. */
  blobs: CID[];
}

/**
 * Runs inside the write transaction after the commit, records and blob
 * references are stored; throwing rolls the whole write back.
 */
export type CommitHook = (tx: DbTransaction, commit: CommitDetails) => Promise<void>;

/** The outcome of a write: per-write results and the commit, or no commit when nothing changed. */
export interface WriteResult {
  commit: { cid: string; rev: string } | null;
  results: WriteOutcome[];
}

export type WriteOutcome =
  | { action: "create" | "update"; uri: string; cid: string; validationStatus: ValidationStatus }
  | { action: "delete"; uri: string };

/**
 * How the write path opens an account's signing key: it reads the sealed key (null without an
 * account row) with the repository's root, under the repo lock, and the account service opens it.
 */
export type SigningKeyOpener = (did: string, sealed: Uint8Array | null) => Promise<Keypair>;
