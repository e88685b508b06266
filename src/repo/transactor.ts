import type { Keypair } from "@atproto/crypto";
import { CID } from "multiformats/cid";
import { attachBlobs, detachBlobs, dropUnreferenced } from "@/blob/refs";
import type { BlobService } from "@/blob/service";
import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import type { Logger } from "@/log";
import { type BuiltCommit, type MstWrite, buildCommit, readHead } from "./mst/commit";
import { storeCommitRows } from "./commit-rows";
import { currentRecordCids, readWriteState } from "./record-rows";
import { SqlRepoStorage } from "./storage";
import type { CommitDetails, CommitHook, CommitOp, PreparedWrite, SigningKeyOpener, WriteOutcome, WriteResult } from "./types";
import type { RepoWriteQueue } from "./write-queue";

/** applyWrites accepts at most this many writes in one commit. */
export const MAX_WRITES = 200;

export class InvalidSwapError extends InvalidRequestError {
  constructor(message: string) {
    super(message, "InvalidSwap");
  }
}

/**
 * The one write path of every repository. Writers of one repository first
 * queue in this process (`RepoWriteQueue`: no pool connection while they
 * wait, 429 past the bound), then under the repo lock (one writer per
 * repository across all nodes) and in one transaction: load the current
 * commit and the account's signing key, check swaps, apply the writes to the MST, sign the new commit, then
 * store its blocks (dropping those no longer reachable), the record rows, the
 * blob references and the new root, and run the commit hooks (the sequencer's
 * `#commit` event). Bytes of blobs no record refers to any more are deleted
 * once the transaction has committed.
 */
export class RepoTransactor {
  private readonly hooks: CommitHook[] = [];
  private readonly listeners: ((commit: CommitDetails) => void)[] = [];

  constructor(
    private readonly db: DatabasePlugin,
    private readonly blobs: BlobService,
    private readonly log: Logger,
    private readonly queue: RepoWriteQueue,
    private readonly openKey: SigningKeyOpener,
  ) {}

  /** Run `hook` in every write transaction, after the repository rows are written. */
  onCommit(hook: CommitHook): void {
    this.hooks.push(hook);
  }

  /** Call `listener` after each write transaction has committed (e.g. the sequencer's `announce()`); its errors are logged. */
  afterCommit(listener: (commit: CommitDetails) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Commit `writes` to `did`'s repository, signed with the account's key.
   * `swapCommit`: the current commit CID must be this one (400 InvalidSwap).
   */
  async write(did: string, writes: readonly PreparedWrite[], swapCommit?: string): Promise<WriteResult> {
    if (writes.length > MAX_WRITES) throw new InvalidRequestError(`Too many writes: at most ${MAX_WRITES} per commit`);
    const paths = new Set<string>();
    for (const w of writes) {
      if (paths.has(w.uri)) throw new InvalidRequestError(`Two writes to the same record in one commit: ${w.uri}`);
      paths.add(w.uri);
    }
    if (await this.nothingToDelete(writes)) return { commit: null, results: writes.map(outcome) };
    const { result, dereferenced, details } = await this.queue.run(did, () =>
      this.db.withRepoLock(did, (tx) => this.commitLocked(tx, did, writes, swapCommit)),
    );
    if (details) {
      for (const listener of this.listeners) {
        try {
          listener(details);
        } catch (err) {
          this.log.warn("after-commit listener failed", { did, err });
        }
      }
    }
    if (dereferenced.length > 0) {
      await this.blobs.deleteUnreferenced(did, dereferenced).catch((err) => {
        this.log.warn("deleting unreferenced blobs failed", { did, err });
      });
    }
    return result;
  }

  /**
   * deleteRecord of a record that does not exist answers 200 without a commit (as the reference PDS
   * does, whatever the swaps say), so it need not queue nor take the repo lock. A record created
   * meanwhile is simply one the delete did not see.
   */
  private async nothingToDelete(writes: readonly PreparedWrite[]): Promise<boolean> {
    if (!writes.every((w) => w.action === "delete" && w.ifExists)) return false;
    const current = await currentRecordCids(this.db.db(), writes.map((w) => w.uri));
    return current.size === 0;
  }

  private async commitLocked(
    tx: DbTransaction,
    did: string,
    writes: readonly PreparedWrite[],
    swapCommit: string | undefined,
  ): Promise<{ result: WriteResult; dereferenced: string[]; details?: CommitDetails }> {
    const storage = new SqlRepoStorage(tx, did);
    const { root, current, sealedKey } = await readWriteState(tx, did, writes.map((w) => w.uri));
    if (!root) throw new InvalidRequestError(`Could not find repo: ${did}`, "RepoNotFound");
    if (swapCommit !== undefined && swapCommit !== root.cid) {
      throw new InvalidSwapError(`Commit was at ${root.cid}`);
    }
    const effective = resolveWrites(writes, current);
    const results = writes.map(outcome);
    if (effective.length === 0) return { result: { commit: null, results }, dereferenced: [] };

    const { commit, prevData } = await signAndStoreCommit(tx, storage, await this.openKey(did, sealedKey), effective, root.cid);
    const detached = await detachBlobs(tx, did, effective.filter((w) => w.action !== "create").map((w) => w.uri));
    const attached = await attachBlobs(tx, this.blobs.store, did, effective.flatMap((w) => (w.action === "delete" ? [] : [w])));
    const dereferenced = await dropUnreferenced(tx, did, detached);

    const details: CommitDetails = {
      did,
      cid: commit.cid,
      rev: commit.rev,
      since: commit.since,
      prev: commit.prev,
      prevData,
      newBlocks: commit.newBlocks,
      relevantBlocks: commit.relevantBlocks,
      removedCids: commit.removedCids,
      ops: effective.map((w) => commitOp(w, current.get(w.uri))),
      blobs: attached.map((cid) => CID.parse(cid)),
    };
    for (const hook of this.hooks) await hook(tx, details);
    return { result: { commit: { cid: commit.cid.toString(), rev: commit.rev }, results }, dereferenced, details };
  }
}

/**
 * Sign the commit applying `writes` on top of commit `root` — or, with `root` null, the repository's
 * first commit over an empty MST — and store it in `tx`: the record rows, the new blocks (minus those
 * no longer reachable, keeping record blocks another record still uses) and the new root. Every
 * commit is built here, a new account's first one (src/repo/create.ts) included.
 */
export async function signAndStoreCommit(
  tx: DbTransaction,
  storage: SqlRepoStorage,
  signingKey: Keypair,
  writes: readonly PreparedWrite[],
  root: string | null,
): Promise<{ commit: BuiltCommit; prevData: CID | null }> {
  const source = (cids: string[]) => storage.readBlocks(cids);
  // A repository that does not exist yet has nothing to update or delete.
  if (!root && writes.some((w) => w.action !== "create")) throw new Error("the first commit of a repository can only create records");
  const head = root ? await readHead(source, root) : null;
  const commit = await buildCommit(source, storage.did, head, writes.map(toMstWrite), signingKey);
  await storeCommitRows(tx, storage, writes, commit);
  return { commit, prevData: head ? head.data : null };
}

/**
 * Check swaps and decide what each write really does given the records that
 * exist: putRecord creates or updates (and skips an unchanged record),
 * deleteRecord of a missing record is a no-op.
 */
function resolveWrites(writes: readonly PreparedWrite[], current: Map<string, string>): PreparedWrite[] {
  const effective: PreparedWrite[] = [];
  for (const w of writes) {
    const cur = current.get(w.uri) ?? null;
    if (w.swapCid !== undefined && w.swapCid !== cur) throw new InvalidSwapError(`Record was at ${cur ?? "null"}`);
    if (w.action === "create") {
      if (cur) throw new InvalidRequestError(`Record already exists: ${w.uri}`);
      effective.push(w);
    } else if (w.action === "update") {
      if (!cur && !w.upsert) throw new InvalidRequestError(`Could not find record to update: ${w.uri}`);
      if (!cur) effective.push({ ...w, action: "create" });
      else if (!(w.upsert && cur === w.cid.toString())) effective.push(w);
    } else {
      if (!cur && !w.ifExists) throw new InvalidRequestError(`Could not find record to delete: ${w.uri}`);
      if (cur) effective.push(w);
    }
  }
  return effective;
}

function outcome(w: PreparedWrite): WriteOutcome {
  if (w.action === "delete") return { action: "delete", uri: w.uri };
  return { action: w.action, uri: w.uri, cid: w.cid.toString(), validationStatus: w.validationStatus };
}

function toMstWrite(w: PreparedWrite): MstWrite {
  const key = `${w.collection}/${w.rkey}`;
  return w.action === "delete" ? { action: "delete", key } : { action: w.action, key, cid: w.cid, bytes: w.bytes };
}

function commitOp(w: PreparedWrite, prev: string | undefined): CommitOp {
  return {
    action: w.action,
    path: `${w.collection}/${w.rkey}`,
    cid: w.action === "delete" ? null : w.cid,
    prev: prev ? CID.parse(prev) : null,
  };
}
