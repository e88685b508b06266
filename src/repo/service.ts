import type { BlobService } from "@/blob/service";
import type { DatabasePlugin } from "@/contracts/db";
import { ForbiddenError, InvalidRequestError } from "@/errors";
import type { ValidateMode, ValidationStatus } from "@/lexicon/validator";
import type { RecordValidator } from "@/lexicon/validator";
import type { Logger } from "@/log";
import type { Sequencer } from "@/sequencer/sequencer";
import { commitDiffCar } from "./commit-car";
import { assertCommitFits, checkSwap, prepareCreate, prepareDelete, prepareUpdate } from "./prepare";
import { RepoReader } from "./reader";
import { MAX_WRITES, RepoTransactor } from "./transactor";
import type { PreparedWrite, SigningKeyOpener, WriteResult } from "./types";
import { RepoWriteQueue } from "./write-queue";


export type CommitRef = { cid: string; rev: string };

/** One entry of applyWrites, as the lexicon's unions carry them. */
export type ApplyWrite =
  | { $type: "com.atproto.repo.applyWrites#create"; collection: string; rkey?: string; value: unknown }
  | { $type: "com.atproto.repo.applyWrites#update"; collection: string; rkey: string; value: unknown }
  | { $type: "com.atproto.repo.applyWrites#delete"; collection: string; rkey: string };

/**
 * The repository service behind com.atproto.repo.*: prepares writes (syntax,
 * data model, lexicon), commits them through the one write path, and reads.
 * Every write acts on the caller's own repository (`did`).
 */
export class RepoService {
  readonly reader: RepoReader;
  readonly transactor: RepoTransactor;

  constructor(
    db: DatabasePlugin,
    blobs: BlobService,
    readonly validator: RecordValidator,
    signingKeys: SigningKeyOpener,
    log: Logger,
    /** Writers of one repository that may wait on this node behind the running one (service.repoWriteQueueMax). */
    writeQueueMax = 16,
  ) {
    this.reader = new RepoReader(db);
    this.transactor = new RepoTransactor(db, blobs, log, new RepoWriteQueue(writeQueueMax), signingKeys);
  }

  /**
   * The DID of `repo` (a DID or handle) when `callerDid` may write to it: only
   * its own repository, and only while the account is active.
   */
  async writableRepo(callerDid: string | undefined, repo: string): Promise<string> {
    const did = await this.reader.resolveRepo(repo);
    if (!callerDid || did !== callerDid) throw new ForbiddenError("Cannot write to another account's repository");
    // The caller's account status (active, or 401 AccountDeactivated / AccountTakedown) was checked with its token.
    return did;
  }

  async createRecord(
    did: string,
    input: { collection: string; rkey?: string; record: unknown; validate?: ValidateMode; swapCommit?: string },
  ): Promise<{ uri: string; cid: string; commit: CommitRef; validationStatus: ValidationStatus }> {
    const write = await prepareCreate(this.validator, did, input);
    const result = await this.commit(did, [write], input.swapCommit);
    return { uri: write.uri, cid: write.cid.toString(), commit: result.commit!, validationStatus: write.validationStatus };
  }

  /** Create or replace one record. An unchanged record makes no commit (`commit` absent). */
  async putRecord(
    did: string,
    input: {
      collection: string;
      rkey: string;
      record: unknown;
      validate?: ValidateMode;
      swapRecord?: string | null;
      swapCommit?: string;
    },
  ): Promise<{ uri: string; cid: string; commit?: CommitRef; validationStatus: ValidationStatus }> {
    const write = await prepareUpdate(this.validator, did, { ...input, upsert: true });
    const result = await this.commit(did, [write], input.swapCommit);
    return {
      uri: write.uri,
      cid: write.cid.toString(),
      ...(result.commit ? { commit: result.commit } : {}),
      validationStatus: write.validationStatus,
    };
  }

  /** Delete one record; deleting a record that does not exist succeeds without a commit. */
  async deleteRecord(
    did: string,
    input: { collection: string; rkey: string; swapRecord?: string; swapCommit?: string },
  ): Promise<{ commit?: CommitRef }> {
    const write = prepareDelete(did, { ...input, ifExists: true });
    const result = await this.commit(did, [write], input.swapCommit);
    return result.commit ? { commit: result.commit } : {};
  }

  /** Several creates, updates and deletes in one commit (at most 200), all or nothing. */
  async applyWrites(
    did: string,
    input: { writes: readonly ApplyWrite[]; validate?: ValidateMode; swapCommit?: string },
  ): Promise<{ commit?: CommitRef; results: object[] }> {
    if (input.writes.length > MAX_WRITES) throw new InvalidRequestError(`Too many writes: at most ${MAX_WRITES} per commit`);
    const prepared: PreparedWrite[] = [];
    for (const [i, w] of input.writes.entries()) {
      prepared.push(await this.prepareOne(did, w, input.validate, i));
    }
    const result = await this.commit(did, prepared, input.swapCommit);
    const results = result.results.map((r) =>
      r.action === "delete"
        ? { $type: "com.atproto.repo.applyWrites#deleteResult" }
        : {
            $type: `com.atproto.repo.applyWrites#${r.action}Result`,
            uri: r.uri,
            cid: r.cid,
            validationStatus: r.validationStatus,
          },
    );
    return { ...(result.commit ? { commit: result.commit } : {}), results };
  }

  private async prepareOne(did: string, w: ApplyWrite, validate: ValidateMode, index: number): Promise<PreparedWrite> {
    try {
      switch (w.$type) {
        case "com.atproto.repo.applyWrites#create":
          return await prepareCreate(this.validator, did, { ...w, record: w.value, validate });
        case "com.atproto.repo.applyWrites#update":
          return await prepareUpdate(this.validator, did, { ...w, record: w.value, validate });
        case "com.atproto.repo.applyWrites#delete":
          return prepareDelete(did, w);
        default:
          throw new InvalidRequestError(`unknown write type ${(w as { $type?: unknown }).$type}`);
      }
    } catch (err) {
      if (err instanceof InvalidRequestError) {
        throw new InvalidRequestError(`Input/writes/${index}: ${err.message}`, err.error);
      }
      throw err;
    }
  }

  private async commit(did: string, writes: PreparedWrite[], swapCommit: string | undefined): Promise<WriteResult> {
    const swap = checkSwap(swapCommit, "swapCommit") ?? undefined;
    assertCommitFits(writes);
    return this.transactor.write(did, writes, swap);
  }
}

/**
 * The repository service as the server runs it: every commit's `#commit` event
 * (blocks = the CAR diff with the proof path) is written in the commit's own
 * transaction, then announced to every node once it has committed.
 */
export function createRepoService(deps: {
  db: DatabasePlugin;
  blobs: BlobService;
  sequencer: Sequencer;
  keys: SigningKeyOpener;
  validator: RecordValidator;
  log: Logger;
  writeQueueMax: number;
}): RepoService {
  const { sequencer } = deps;
  const repo = new RepoService(deps.db, deps.blobs, deps.validator, deps.keys, deps.log, deps.writeQueueMax);
  repo.transactor.onCommit(async (tx, c) => {
    const blocks = commitDiffCar(c);
    await sequencer.sequenceCommit(tx, { repo: c.did, commit: c.cid, rev: c.rev, since: c.since, blocks, ops: c.ops, prevData: c.prevData });
  });
  repo.transactor.afterCommit(() => sequencer.announce());
  return repo;
}
