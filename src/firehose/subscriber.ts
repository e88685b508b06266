import type { Logger } from "@/log";
import type { SeqReader } from "@/sequencer/reader";
import type { Semaphore } from "@/util/semaphore";
import { resolveCursor } from "./cursor";
import { type FirehoseEvent, errorFrame, infoFrame, rowToEvent } from "./frames";
import type { EventTail } from "./tail";

/** What a subscriber needs of a WebSocket (Bun's ServerWebSocket has all of it). */
export interface FirehoseSocket {
  /** Bun: bytes written, -1 when queued under backpressure, 0 when dropped. */
  send(data: Uint8Array): number;
  getBufferedAmount(): number;
  ping(): unknown;
  /** Run `fn`, sending everything it sends in as few writes as possible. */
  cork<R>(fn: () => R): R;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

export interface SubscriberOptions {
  tail: EventTail;
  reader: SeqReader;
  /** Live events that may wait for a slow socket before ConsumerTooSlow. */
  maxBufferedEvents: number;
  backfillMs: number;
  /** Shared by the node's subscribers: bounds how many replays read the event table at once. */
  backfills: Semaphore;
  log: Logger;
  /** Called once when the subscriber ends, with why. */
  onEnd: (reason: EndReason) => void;
}

export type EndReason = "client" | "too_slow" | "future_cursor" | "no_pong" | "error" | "shutdown";

/** Bytes a socket may hold unsent before we stop handing it more; frames wait in our queue instead. */
const HIGH_WATER_BYTES = 512 * 1024;
/** Rows per database read while replaying. */
const PAGE = 500;
/** WebSocket close code "policy violation", which the reference uses after an error frame. */
const CLOSE_POLICY = 1008;
/** How long a closed-by-us socket may take to finish its close handshake before it is cut. */
const CLOSE_GRACE_MS = 5000;

/**
 * One subscribeRepos connection. It first replays from its cursor (memory
 * if the tail still holds the range, else the database, page by page at the
 * socket's pace), then, in the same synchronous step in which it has caught
 * up with the tail's head, becomes a live listener. `position` is the seq up
 * to which everything was sent or skipped, so no event is sent twice and
 * none is missed. While live, events the socket cannot take yet wait in a
 * bounded queue; past the bound the consumer is too slow and is closed.
 */
export class Subscriber {
  position = -1;
  #queue: FirehoseEvent[] = [];
  #queueStart = 0;
  #unsubscribe: (() => void) | undefined;
  #ended = false;
  #awaitingPong = false;
  #drained: (() => void) | undefined;

  constructor(
    private readonly socket: FirehoseSocket,
    private readonly options: SubscriberOptions,
  ) {}

  get live(): boolean {
    return this.#unsubscribe !== undefined;
  }

  async run(cursor: number | undefined): Promise<void> {
    const { tail, reader, backfillMs } = this.options;
    try {
      await tail.ready();
      if (this.#ended) return;
      const start = await resolveCursor(reader, cursor, backfillMs);
      if (this.#ended) return;
      if (start.kind === "future") return this.fail("FutureCursor", "Cursor in the future.", "future_cursor");
      if (start.kind === "live") {
        this.position = tail.head;
        return this.#goLive();
      }
      if (start.outdated) {
        this.#send(infoFrame("OutdatedCursor", "Requested cursor exceeded limit. Possibly missing events"));
      }
      this.position = start.after;
      await this.#replay();
    } catch (err) {
      this.options.log.warn("firehose: subscriber failed", { err });
      this.fail("InternalServerError", "Internal Server Error", "error", 1011);
    }
  }

  /** The socket can take more data. */
  onDrain(): void {
    this.#drained?.();
    this.#pump();
  }

  onPong(): void {
    this.#awaitingPong = false;
  }

  /** Ping; a subscriber that did not answer the previous ping is gone and gets cut. */
  keepalive(): void {
    if (this.#ended) return;
    if (this.#awaitingPong) {
      this.#end("no_pong");
      this.socket.terminate();
      return;
    }
    this.#awaitingPong = true;
    this.socket.ping();
  }

  /** The socket closed (either side). */
  onClose(): void {
    this.#end("client");
  }

  /** Close because the server is stopping. */
  shutdown(): void {
    if (this.#ended) return;
    this.#end("shutdown");
    this.socket.close(1001, "server shutting down");
  }

  /** Send an error frame, then close. */
  fail(error: string, message: string, reason: EndReason, code = CLOSE_POLICY): void {
    if (this.#ended) return;
    this.#end(reason);
    this.socket.send(errorFrame(error, message));
    this.socket.close(code, error);
    // A consumer that stopped reading never completes the close handshake.
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Live events waiting for the socket. */
  get queued(): number {
    return this.#queue.length - this.#queueStart;
  }

  async #replay(): Promise<void> {
    const { tail, reader } = this.options;
    // Events fetched but not sent yet (the socket filled up), and the head a short database page covered.
    let pending: FirehoseEvent[] = [];
    let coveredTo: number | undefined;
    while (!this.#ended) {
      if (pending.length === 0) {
        const head = tail.head;
        if (coveredTo !== undefined) this.position = Math.max(this.position, coveredTo);
        if (this.position >= head) return this.#goLive();
        const recent = tail.recentAfter(this.position);
        if (recent?.length) {
          pending = recent;
          coveredTo = undefined;
        } else {
          const from = this.position;
          const rows = await this.options.backfills.run(() => reader.range(from, head, PAGE));
          if (this.#ended) return;
          pending = rows.map(rowToEvent);
          // A short page holds every sendable row up to `head`; any others were invalidated.
          coveredTo = rows.length < PAGE ? head : undefined;
        }
      }
      const sent = this.socket.cork(() => {
        let n = 0;
        for (const event of pending) {
          if (this.#full() || !this.#send(event.frame)) break;
          this.position = event.seq;
          n++;
        }
        return n;
      });
      pending = pending.slice(sent);
      if (this.#full()) await this.#writable();
    }
  }

  #goLive(): void {
    if (this.#ended) return;
    this.#unsubscribe = this.options.tail.subscribe((events) => this.socket.cork(() => this.#onEvents(events)));
  }

  #onEvents(events: readonly FirehoseEvent[]): void {
    for (const event of events) {
      if (this.#ended) return;
      if (event.seq > this.position) this.#onEvent(event);
    }
  }

  #onEvent(event: FirehoseEvent): void {
    if (this.queued === 0 && !this.#full()) {
      if (this.#send(event.frame)) this.position = event.seq;
      return;
    }
    this.#queue.push(event);
    if (this.queued > this.options.maxBufferedEvents) return this.fail("ConsumerTooSlow", "Stream consumer too slow", "too_slow");
    this.#pump();
  }

  #pump(): void {
    while (!this.#ended && this.queued > 0 && !this.#full()) {
      const event = this.#queue[this.#queueStart++]!;
      if (event.seq > this.position) {
        if (!this.#send(event.frame)) return;
        this.position = event.seq;
      }
    }
    if (this.queued === 0) {
      this.#queue = [];
      this.#queueStart = 0;
    } else if (this.#queueStart > 1024) {
      this.#queue = this.#queue.slice(this.#queueStart);
      this.#queueStart = 0;
    }
  }

  #full(): boolean {
    return this.socket.getBufferedAmount() >= HIGH_WATER_BYTES;
  }

  /** Hand a frame to the socket; false (and the connection cut) when Bun dropped it, so no gap goes unnoticed. */
  #send(frame: Uint8Array): boolean {
    if (this.#ended) return false;
    if (this.socket.send(frame) !== 0) return true;
    this.#end("error");
    this.socket.terminate();
    return false;
  }

  /** Wait until the socket's buffer is below the high-water mark (or the subscriber ended). */
  #writable(): Promise<void> {
    return new Promise((resolve) => {
      // Bun calls drain when a backpressured socket empties; the timer covers a drain that came before we waited.
      const check = setInterval(() => {
        if (this.#ended || !this.#full()) done();
      }, 100);
      const done = () => {
        clearInterval(check);
        this.#drained = undefined;
        resolve();
      };
      this.#drained = done;
    });
  }

  #end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe?.();
    this.#queue = [];
    this.#queueStart = 0;
    this.#drained?.();
    this.options.onEnd(reason);
  }
}
