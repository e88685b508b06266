import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import type { Logger } from "@/log";
import { accountBody, commitBody, encodeBody, identityBody, syncBody } from "./encode";
import type { AccountStatus, CidInput, CommitEventInput, EventType } from "./types";

/** The notification channel that tells every node "new rows in repo_seq". Payloads are hints. */
export const SEQ_CHANNEL = "seq";
/** The named lock (DatabasePlugin.lock) held from the insert to the commit of every event. */
export const SEQ_LOCK = "seq";

/**
 * The write side of the firehose. Every `sequence*` call inserts one event
 * row into `repo_seq` inside the caller's transaction, so the event exists if
 * and only if the change it describes was committed.
 *
 * Ordering: each call first takes the `seq` lock, which the transaction then
 * holds until it ends. Sequence numbers are therefore handed out in commit
 * order on every node (on PostgreSQL an identity value taken earlier could
 * otherwise become visible after a later one), and a reader that follows
 * "seq > the last seq I saw" never skips an event. The price is that event
 * writers are serialised from their insert to their commit: sequence as the
 * last step of the transaction.
 *
 * After the transaction commits, call `announce()` so every node's firehose
 * reads the new rows at once; without it they still arrive with the next poll.
 */
export interface Sequencer {
  /** A `#commit` event. Returns its seq. */
  sequenceCommit(tx: DbTransaction, commit: CommitEventInput): Promise<number>;
  /** A `#identity` event (handle change, account creation); `handle` is the account's current handle. */
  sequenceIdentity(tx: DbTransaction, did: string, handle?: string): Promise<number>;
  /** A `#account` event; `status` only when inactive (takendown, deactivated, deleted, ...). */
  sequenceAccount(tx: DbTransaction, did: string, active: boolean, status?: AccountStatus): Promise<number>;
  /** A `#sync` event: `blocks` is a CAR whose first root is `commitCid` and holds the commit block. */
  sequenceSync(tx: DbTransaction, did: string, commitCid: CidInput, rev: string, blocks: Uint8Array): Promise<number>;
  /**
   * Tell every node that events were committed. Call after the transaction
   * has committed; never throws and never waits (a lost hint only delays
   * delivery until the next poll).
   */
  announce(): void;
}

export function createSequencer(db: DatabasePlugin, log: Logger): Sequencer {
  const insert = async (tx: DbTransaction, did: string, type: EventType, body: Record<string, unknown>) => {
    // The body is built and checked before the lock: a bad event must not make other writers wait.
    await db.lock(tx, SEQ_LOCK);
    // The time is taken under the lock so that, on one clock, it grows with seq.
    const time = new Date().toISOString();
    const row = await tx
      .insertInto("repo_seq")
      .values({ did, event_type: type, event: encodeBody({ ...body, time }), sequenced_at: time })
      .returning("seq")
      .executeTakeFirstOrThrow();
    return row.seq;
  };

  return {
    sequenceCommit: async (tx, commit) => insert(tx, commit.repo, "commit", commitBody(commit)),
    sequenceIdentity: async (tx, did, handle) => insert(tx, did, "identity", identityBody(did, handle)),
    sequenceAccount: async (tx, did, active, status) => insert(tx, did, "account", accountBody(did, active, status)),
    sequenceSync: async (tx, did, commitCid, rev, blocks) => insert(tx, did, "sync", syncBody(did, commitCid, rev, blocks)),
    announce() {
      db.notify(SEQ_CHANNEL, "").catch((err) => log.warn("sequencer: notify failed; readers catch up by polling", { err }));
    },
  };
}
