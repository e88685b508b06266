import type { DatabasePlugin } from "@/contracts/db";
import type { Logger } from "@/log";
import type { SeqReader, SeqRow } from "@/sequencer/reader";
import { SEQ_CHANNEL } from "@/sequencer/sequencer";
import { type FirehoseEvent, rowToEvent } from "./frames";

/** Rows per read of the event table. */
const PAGE = 500;
/** Recent frames kept in memory, so reconnecting consumers replay without a database read. */
const RECENT_MAX_EVENTS = 2048;
const RECENT_MAX_BYTES = 8 * 1024 * 1024;
/** Rows of this node's own uncommitted events held at once (see `expect`); past it they are forgotten and read back. */
const EXPECTED_MAX = 1024;

/** Receives each batch of newly read events, in seq order (one batch per read, so sends can be corked). */
export type TailListener = (events: readonly FirehoseEvent[]) => void;

/**
 * This node's follower of `repo_seq`: it reads new rows in seq order and
 * hands each event, as a ready frame, to every live subscriber of this node.
 * It reads when told (a database notification on the `seq` channel, from any
 * node) and on a timer as the fallback; reads are coalesced, one at a time.
 *
 * This node's own events on PostgreSQL are not read back: the sequencer hands
 * over each row it inserts (`expect`), and when the commit's notification
 * names that seq and it is the next after `head`, it is emitted as it is.
 *
 * `head` is the highest seq emitted. Everything at or below it is in the
 * database, and everything above it will be emitted in order, so a
 * subscriber that has sent everything up to `head` and subscribes in the same
 * synchronous step has neither a gap nor a duplicate.
 */
export class EventTail {
  #head = -1;
  readonly #listeners = new Set<TailListener>();
  /** Consecutive events most recently emitted; `#recentBase` is the head before the first of them. */
  #recent: FirehoseEvent[] = [];
  #recentBytes = 0;
  #recentBase = -1;
  /** Rows this node inserted, by seq, until their commit's notification or a read passes them. */
  readonly #expected = new Map<number, SeqRow>();
  #reading = false;
  #again = false;
  /** A read is due on the next turn of the event loop. */
  #soon = false;
  #timer: Timer | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;
  readonly #readyWaiters: (() => void)[] = [];

  constructor(
    private readonly db: DatabasePlugin,
    private readonly reader: SeqReader,
    private readonly pollIntervalMs: number,
    private readonly log: Logger,
    /** Called once per batch of emitted events (metrics, crawler notification). */
    private readonly onEmit: (events: readonly FirehoseEvent[]) => void,
  ) {}

  async start(): Promise<void> {
    // A notification may come from any node; a null payload (missed notifications) means the same: re-read.
    this.#unlisten = await this.db.listen(SEQ_CHANNEL, (payload) => this.#notified(payload));
    this.#timer = setInterval(() => this.poke(), this.pollIntervalMs);
    this.poke();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners.clear();
    await this.#unlisten?.().catch(() => {});
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  /** Highest seq emitted, or -1 until the first read of the table succeeded. */
  get head(): number {
    return this.#head;
  }

  /** Resolves once `head` is known (or the tail closed). */
  ready(): Promise<void> {
    if (this.#head >= 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Receive every event emitted from now on, batch by batch; returns the unsubscribe function. */
  subscribe(listener: TailListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The emitted events with seq > `position`, when memory still holds all of
   * them; undefined when the caller must read the database instead.
   */
  recentAfter(position: number): FirehoseEvent[] | undefined {
    if (this.#head < 0 || position < this.#recentBase) return undefined;
    const recent = this.#recent;
    let lo = 0;
    let hi = recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (recent[mid]!.seq <= position) lo = mid + 1;
      else hi = mid;
    }
    return recent.slice(lo);
  }

  /**
   * A row the sequencer inserted in a transaction not yet committed (it may
   * still roll back): kept until the notification of its commit names it.
   */
  expect(row: SeqRow): void {
    if (this.#closed || row.seq <= this.#head) return;
    if (this.#expected.size >= EXPECTED_MAX) this.#expected.clear();
    this.#expected.set(row.seq, row);
  }

  /**
   * A notification on the seq channel. One naming the seq right after `head`
   * of a row this node inserted means that row committed, and everything
   * before it has been emitted: it is emitted without a read. One naming a
   * seq at or below `head` was read already. Anything else (no seq, another
   * node's event, a gap, a read in progress) reads.
   */
  #notified(payload: string | null): void {
    const seq = payload !== null && /^[0-9]{1,15}$/.test(payload) ? Number(payload) : 0;
    if (seq > 0 && this.#head >= 0 && !this.#reading && !this.#closed) {
      if (seq <= this.#head) return;
      const row = seq === this.#head + 1 ? this.#expected.get(seq) : undefined;
      if (row) {
        try {
          const events = [rowToEvent(row)];
          this.#emit(events);
          this.onEmit(events);
          return;
        } catch (err) {
          this.log.warn("firehose: could not emit this node's own event; reading it instead", { err, seq });
        }
      }
    }
    this.poke();
  }

  /**
   * Read new rows soon. Cheap and safe to call often: the pokes of one turn of the event loop are one
   * read (a burst of commits' notifications arrives together), reads never overlap, and one more
   * follows a busy read.
   */
  poke(): void {
    if (this.#closed || this.#soon) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#soon = true;
    setImmediate(() => {
      this.#soon = false;
      if (this.#closed) return;
      if (this.#reading) this.#again = true;
      else void this.#read();
    });
  }

  async #read(): Promise<void> {
    this.#reading = true;
    try {
      do {
        this.#again = false;
        if (this.#head < 0) await this.#init();
        while (!this.#closed) {
          const rows = await this.reader.range(this.#head, undefined, PAGE);
          if (this.#closed || rows.length === 0) break;
          const events = rows.map(rowToEvent);
          this.#emit(events);
          this.onEmit(events);
          if (rows.length < PAGE) break;
        }
      } while (this.#again && !this.#closed);
    } catch (err) {
      // The database is down or busy: the next notification or poll tries again, from the same head.
      this.log.warn("firehose: reading new events failed; retrying on the next poll", { err });
    } finally {
      this.#reading = false;
    }
  }

  async #init(): Promise<void> {
    const head = await this.reader.head();
    if (this.#head >= 0) return;
    this.#head = head;
    this.#recentBase = head;
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  #emit(events: readonly FirehoseEvent[]): void {
    for (const event of events) this.#remember(event);
    // Expected rows at or below the head are emitted, or were rolled back (their seq is never used).
    if (this.#expected.size > 0) for (const seq of this.#expected.keys()) if (seq <= this.#head) this.#expected.delete(seq);
    // Head and memory cover the whole batch before anyone hears of it: a subscriber never sees head ahead of a gap.
    for (const listener of this.#listeners) {
      try {
        listener(events);
      } catch (err) {
        this.log.error("firehose: subscriber failed on events", { err, seq: events[0]?.seq });
      }
    }
  }

  #remember(event: FirehoseEvent): void {
    this.#head = event.seq;
    // A deleted account's earlier events left the table with it: replays from memory must not bring them back.
    if (event.deletesAccount) {
      this.#recent = this.#recent.filter((e) => e.did !== event.did);
      this.#recentBytes = this.#recent.reduce((sum, e) => sum + e.frame.byteLength, 0);
    }
    this.#recent.push(event);
    this.#recentBytes += event.frame.byteLength;
    while (this.#recent.length > RECENT_MAX_EVENTS || this.#recentBytes > RECENT_MAX_BYTES) {
      const dropped = this.#recent.shift()!;
      this.#recentBytes -= dropped.frame.byteLength;
      this.#recentBase = dropped.seq;
    }
  }
}
