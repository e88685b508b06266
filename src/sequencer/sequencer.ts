import { CompiledQuery } from "kysely";
import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import { LOCK_SPACE, lockKey } from "@/db/advisory-lock";
import { prepared } from "@/db/prepared";
import type { Logger } from "@/log";
import type { SeqRow } from "./reader";
import { accountBody, commitBody, encodeBody, encodeWithTimeSlot, identityBody, syncBody } from "./encode";
import type { AccountStatus, CidInput, CommitEventInput, EventType } from "./types";

/**
 * The notification channel that tells every node "new rows in repo_seq".
 * Payloads are hints: on PostgreSQL each event's own notification carries its
 * seq (see PG_SEQUENCE), other notifications are empty.
 */
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
 * On PostgreSQL the event's insert notifies by itself at commit (see
 * PG_SEQUENCE) and `announce()` only notifies for events written some other
 * way: it skips one call per transaction that sequenced events.
 *
 * `onInserted`, when given, hears of each row as PostgreSQL stored it, before
 * the transaction commits (this node's firehose then needs not read its own
 * events back: EventTail.expect); it must not throw.
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

export function createSequencer(db: DatabasePlugin, log: Logger, onInserted?: (row: SeqRow) => void): Sequencer {
  const folded = db.dialect === "postgres";
  // Transactions whose events carried their own notification (PostgreSQL): as many announce() calls are redundant.
  let carried = 0;
  const carrying = new WeakSet<DbTransaction>();

  const insert = async (tx: DbTransaction, did: string, type: EventType, body: Record<string, unknown>) => {
    if (folded) {
      // The body is built and checked before the lock: a bad event must not make other writers wait.
      const { bytes, at } = encodeWithTimeSlot(body);
      const { rows } = await tx.executeQuery<{ seq: number | string; event: Uint8Array; sequenced_at: string }>(
        CompiledQuery.raw(PG_SEQUENCE, [FALLBACK_LOCK_TIMEOUT, LOCK_SPACE, lockKey(SEQ_LOCK), did, type, bytes, at + 1, SEQ_CHANNEL]),
      );
      if (!carrying.has(tx)) {
        carrying.add(tx);
        carried++;
      }
      const row = rows[0]!;
      const seq = Number(row.seq);
      onInserted?.({ seq, did, event_type: type, event: row.event, sequenced_at: row.sequenced_at });
      return seq;
    }
    await db.lock(tx, SEQ_LOCK);
    // The time is taken under the lock so that, on one clock, it grows with seq.
    const time = new Date().toISOString();
    const rows = await insertEvent.rows(tx, { did, type, event: encodeBody({ ...body, time }), time });
    return Number(rows[0]!.seq);
  };

  return {
    sequenceCommit: async (tx, commit) => insert(tx, commit.repo, "commit", commitBody(commit)),
    sequenceIdentity: async (tx, did, handle) => insert(tx, did, "identity", identityBody(did, handle)),
    sequenceAccount: async (tx, did, active, status) => insert(tx, did, "account", accountBody(did, active, status)),
    sequenceSync: async (tx, did, commitCid, rev, blocks) => insert(tx, did, "sync", syncBody(did, commitCid, rev, blocks)),
    announce() {
      if (carried > 0) {
        carried--;
        return;
      }
      db.notify(SEQ_CHANNEL, "").catch((err) => log.warn("sequencer: notify failed; readers catch up by polling", { err }));
    },
  };
}

const insertEvent = prepared<{ did: string; type: EventType; event: Uint8Array; time: string }, { seq: number }>((db, $) =>
  db
    .insertInto("repo_seq")
    .values({ did: $("did"), event_type: $("type"), event: $("event"), sequenced_at: $("time") })
    .returning("seq"),
);

/**
 * PostgreSQL: the seq lock, the time, the insert and the notification in one
 * statement (one round trip instead of three). In order, each step reading
 * the one before: the transaction's lock timeout (kept when the repo lock has
 * set it already), the seq lock, the database clock taken under the lock
 * (one clock for every node), written over the body's placeholder time, the
 * insert, which returns the stored row; pg_notify, with the seq as its
 * payload, is delivered when the transaction commits, and not at all when it
 * rolls back. $1 fallback lock timeout, $2/$3 the lock's keys,
 * $4 did, $5 type, $6 body, $7 1-based offset of its time, $8 channel.
 */
const PG_SEQUENCE = `with c as (
  select set_config('lock_timeout', case current_setting('lock_timeout') when '0' then $1 else current_setting('lock_timeout') end, true)
), l as (
  select pg_advisory_xact_lock($2::int4, $3::int4) from c
), t as (
  select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as time from l
), e as (
  insert into repo_seq (did, event_type, event, sequenced_at)
  select $4, $5, overlay($6::bytea placing convert_to(t.time, 'UTF8') from $7::int4), t.time from t
  returning seq, event, sequenced_at
)
select seq, event, sequenced_at, pg_notify($8, seq::text) from e`;

/** Lock timeout of the seq lock in a transaction that has none yet (db-postgres's default lockTimeout). */
const FALLBACK_LOCK_TIMEOUT = "15s";
