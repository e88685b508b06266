/**
 * What the write paths hand the sequencer, per com.atproto.sync.subscribeRepos
 * and Sync 1.1. CIDs may be given as strings or as CID objects of any
 * multiformats version (@atproto/repo's `Cid`, multiformats' `CID`): the
 * sequencer re-reads them from their bytes, so no CID class crosses the API.
 */

/** A CID as a string (`bafyrei...`) or any CID object exposing its binary form. */
export type CidInput = string | { readonly bytes: Uint8Array };

/**
 * One record operation of a commit (the lexicon's `#repoOp`). Sync 1.1 rules,
 * checked when the event is sequenced:
 * - create: `cid` = the new record, no `prev`;
 * - update: `cid` = the new record, `prev` = the record it replaced;
 * - delete: `cid` = null, `prev` = the record it removed.
 */
export interface RepoOpInput {
  action: "create" | "update" | "delete";
  /** `collection/rkey`. */
  path: string;
  cid: CidInput | null;
  /** Absent (or null) for a create. */
  prev?: CidInput | null;
}

/**
 * A `#commit` event: one signed commit of one repository.
 *
 * `blocks` is a CAR file (CARv1) whose first root is `commit` and which holds
 * the commit block, every new block of this commit (records, MST nodes) and
 * the proof path: the MST nodes a consumer needs to verify each op against
 * `prevData` and the new root (with @atproto/repo: `blocksToCarFile(commit.cid,
 * newBlocks ∪ relevantBlocks)`). At most 2,000,000 bytes and 200 ops, the
 * lexicon's limits; write paths refuse bigger commits before they get here.
 */
export interface CommitEventInput {
  /** The repository's DID. */
  repo: string;
  /** CID of the new signed commit object. */
  commit: CidInput;
  /** The new commit's rev (a TID). */
  rev: string;
  /** Rev of this repository's previous commit; null for its first commit. */
  since: string | null;
  /** The CAR diff described above. */
  blocks: Uint8Array;
  ops: RepoOpInput[];
  /** MST root (`data`) of the previous commit; absent only for a repository's first commit. */
  prevData?: CidInput | null;
}

/** Account states the lexicon knows; any other string passes through unchanged. */
export type AccountStatus =
  | "takendown"
  | "suspended"
  | "deleted"
  | "deactivated"
  | "desynchronized"
  | "throttled"
  | (string & {});

/** The four event types stored in `repo_seq.event_type` (the frame header's `t` without `#`). */
export const EVENT_TYPES = ["commit", "identity", "account", "sync"] as const;
export type EventType = (typeof EVENT_TYPES)[number];
