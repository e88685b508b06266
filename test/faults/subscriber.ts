/**
 * A firehose subscriber that survives faults: it records every seq and every
 * error (close, error frame, failed connect), and after one reconnects from
 * the last seq it saw, as a relay would.
 */
import { decodeFrame } from "@test/support/firehose";

/** One #commit as the subscriber saw it: enough to check a repo's chain. */
export interface SeenCommit {
  seq: number;
  repo: string;
  rev: string;
  since: string | null;
}

/** A subscription that reconnects from its cursor until `close()`. */
export class ResilientSubscriber {
  /** Every message seq in arrival order, across reconnections. */
  readonly seqs: number[] = [];
  readonly commits: SeenCommit[] = [];
  /** What ended each connection other than `close()`, with the time. */
  readonly errors: { at: number; what: string }[] = [];
  /** How many connections were opened (1 + reconnections). */
  connections = 0;
  #ws: WebSocket | undefined;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `cursor`: the seq to start after (the firehose replays everything after it). */
  constructor(
    private readonly port: number,
    private readonly cursor: number,
    private readonly reconnectDelayMs = 500,
  ) {
    this.#connect();
  }

  /** The last seq received, or the starting cursor. */
  get last(): number {
    return this.seqs.at(-1) ?? this.cursor;
  }

  #connect(): void {
    if (this.#closed) return;
    this.connections++;
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}/xrpc/com.atproto.sync.subscribeRepos?cursor=${this.last}`);
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    let failed = false;
    const fail = (what: string) => {
      if (failed || this.#closed) return;
      failed = true;
      this.errors.push({ at: Date.now(), what });
      try {
        ws.close();
      } catch {}
      this.#timer = setTimeout(() => this.#connect(), this.reconnectDelayMs);
    };
    ws.onmessage = (e) => {
      try {
        const frame = decodeFrame(new Uint8Array(e.data as ArrayBuffer));
        if (frame.header.op === -1) return fail(`error frame ${JSON.stringify(frame.body)}`);
        if (frame.header.t === "#info") return;
        const seq = frame.body.seq as number;
        this.seqs.push(seq);
        if (frame.header.t === "#commit") {
          const b = frame.body as { repo: string; rev: string; since: string | null };
          this.commits.push({ seq, repo: b.repo, rev: b.rev, since: b.since ?? null });
        }
      } catch (err) {
        fail(`undecodable frame: ${err}`);
      }
    };
    ws.onerror = () => fail("socket error");
    ws.onclose = (e) => fail(`closed ${e.code} ${e.reason}`);
  }

  /** Stop for good; no reconnection after this. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    try {
      this.#ws?.close();
    } catch {}
  }
}
