import type { DatabasePlugin } from "@/contracts/db";
import { prepared } from "@/db/prepared";

/** One stored event, as the firehose reads it. */
export interface SeqRow {
  seq: number;
  did: string;
  event_type: string;
  /** DAG-CBOR body without `seq`. */
  event: Uint8Array;
  sequenced_at: string;
}

/**
 * The read side of `repo_seq`. Because events are inserted under the seq
 * lock (see sequencer.ts), every read sees a prefix of the stream in commit
 * order: a later read can add rows above the highest seq seen, never below.
 * Invalidated rows keep their seq (cursors stay continuous) but are not sent.
 */
export interface SeqReader {
  /** Highest seq ever assigned and committed (invalidated rows included), 0 when none. */
  head(): Promise<number>;
  /** Up to `limit` events with `after < seq <= upTo` (no upper bound when `upTo` is undefined), in seq order. */
  range(after: number, upTo: number | undefined, limit: number): Promise<SeqRow[]>;
  /** The first event after `seq`, with its time. */
  firstAfter(seq: number): Promise<{ seq: number; sequenced_at: string } | undefined>;
  /** Seq of the earliest event sequenced at or after `time` (ISO-8601), if any. */
  firstSince(time: string): Promise<number | undefined>;
}

const rangeAfter = prepared<{ after: number; limit: number }, SeqRow>((db, $) =>
  db
    .selectFrom("repo_seq")
    .select(["seq", "did", "event_type", "event", "sequenced_at"])
    .where("seq", ">", $("after"))
    .where("invalidated", "=", 0)
    .orderBy("seq")
    .limit($("limit")),
);
const rangeUpTo = prepared<{ after: number; upTo: number; limit: number }, SeqRow>((db, $) =>
  db
    .selectFrom("repo_seq")
    .select(["seq", "did", "event_type", "event", "sequenced_at"])
    .where("seq", ">", $("after"))
    .where("seq", "<=", $("upTo"))
    .where("invalidated", "=", 0)
    .orderBy("seq")
    .limit($("limit")),
);

export function createSeqReader(db: DatabasePlugin): SeqReader {
  return {
    async head() {
      const row = await db
        .db()
        .selectFrom("repo_seq")
        .select((eb) => eb.fn.max("seq").as("seq"))
        .executeTakeFirst();
      return Number(row?.seq ?? 0);
    },
    async range(after, upTo, limit) {
      // Every poll of every firehose runs one: compiled once.
      return upTo === undefined ? rangeAfter.rows(db.db(), { after, limit }) : rangeUpTo.rows(db.db(), { after, upTo, limit });
    },
    async firstAfter(seq) {
      return db
        .db()
        .selectFrom("repo_seq")
        .select(["seq", "sequenced_at"])
        .where("seq", ">", seq)
        .where("invalidated", "=", 0)
        .orderBy("seq")
        .limit(1)
        .executeTakeFirst();
    },
    async firstSince(time) {
      // By time, on the sequenced_at index; clocks of different nodes may disagree by a little, so this is
      // the event with the earliest time in the window, which is at or near the lowest seq in it.
      const row = await db
        .db()
        .selectFrom("repo_seq")
        .select("seq")
        .where("sequenced_at", ">=", time)
        .orderBy("sequenced_at")
        .orderBy("seq")
        .limit(1)
        .executeTakeFirst();
      return row?.seq;
    },
  };
}
