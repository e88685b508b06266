/**
 * A bounded load against the balancer while faults are injected: writers
 * (createRecord, every few a blob upload attached to the post), readers
 * (getRecord of acknowledged writes), and firehose subscribers. Every request
 * has a timeout; each outcome is tallied under the phase it started in, and
 * every acknowledged write goes into a ledger that check.ts holds the
 * deployment to afterwards.
 */
import { fakePng } from "@test/support/blobs";
import { ResilientSubscriber } from "./subscriber";

/** A logged-in account the load writes to. */
export interface LoadAccount {
  did: string;
  token: string;
}

/** One acknowledged write: the answer's uri and cid, the blob its post embeds if any. */
export interface Ack {
  did: string;
  uri: string;
  cid: string;
  blob?: string;
  startedAt: number;
  ackedAt: number;
}

/** How a request ended: an HTTP status, its own timeout, or a connection failure. */
export type Outcome = number | "timeout" | "network";

export type RequestKind = "write" | "upload" | "read";

/** One request, for the figures. */
export interface Sample {
  kind: RequestKind;
  outcome: Outcome;
  phase: string;
  startedAt: number;
  ms: number;
  /** For a failure worth reporting: the route and the body's first bytes. */
  detail?: string;
}

export interface LoadOptions {
  /** The balancer's URL and port (the firehose is a WebSocket on the port). */
  url: string;
  port: number;
  accounts: readonly LoadAccount[];
  /** The seq to start the subscribers after. */
  cursor: number;
  /** @default 4 (one per account, round robin) */
  writers?: number;
  /** @default 2 */
  readers?: number;
  /** @default 2 */
  subscribers?: number;
  /** Per request. @default 10_000 */
  timeoutMs?: number;
  /** Every n-th write of a writer uploads a blob and embeds it. @default 4 */
  uploadEvery?: number;
  /** Pause between one writer's requests. @default 25 */
  pauseMs?: number;
  /** Hard bound on each writer's iterations, whatever happens. @default 5000 */
  maxIterations?: number;
}

export interface LoadReport {
  ledger: Ack[];
  samples: Sample[];
  subscribers: ResilientSubscriber[];
  /** The fault windows marked with `faultStarted`/`faultEnded`. */
  windows: { start: number; end: number }[];
}

/** A running load; `stop()` ends it and hands back what happened. */
export class Load {
  readonly ledger: Ack[] = [];
  readonly samples: Sample[] = [];
  readonly subscribers: ResilientSubscriber[];
  readonly windows: { start: number; end: number }[] = [];
  phase = "before";
  #stopping = false;
  #workers: Promise<void>[] = [];
  #faultStart: number | undefined;
  readonly #o: Required<LoadOptions>;

  constructor(options: LoadOptions) {
    this.#o = { writers: 4, readers: 2, subscribers: 2, timeoutMs: 10_000, uploadEvery: 4, pauseMs: 25, maxIterations: 5000, ...options };
    if (this.#o.accounts.length === 0) throw new Error("Load needs at least one account");
    this.subscribers = Array.from({ length: this.#o.subscribers }, () => new ResilientSubscriber(this.#o.port, this.#o.cursor));
    for (let i = 0; i < this.#o.writers; i++) this.#workers.push(this.#writer(i));
    for (let i = 0; i < this.#o.readers; i++) this.#workers.push(this.#reader());
  }

  /** Mark the start of a fault: later requests count under phase "fault". */
  faultStarted(): void {
    this.#faultStart = Date.now();
    this.phase = "fault";
  }

  /** Mark the end of the fault (the service is back or the node restarted): later requests count under "after". */
  faultEnded(): void {
    this.windows.push({ start: this.#faultStart ?? Date.now(), end: Date.now() });
    this.#faultStart = undefined;
    this.phase = "after";
  }

  /** Acknowledged writes that started after `t`. */
  ackedSince(t: number): number {
    return this.ledger.filter((a) => a.startedAt >= t).length;
  }

  async stop(): Promise<LoadReport> {
    this.#stopping = true;
    await Promise.all(this.#workers);
    return { ledger: this.ledger, samples: this.samples, subscribers: this.subscribers, windows: this.windows };
  }

  async #writer(i: number): Promise<void> {
    const account = this.#o.accounts[i % this.#o.accounts.length]!;
    for (let n = 0; n < this.#o.maxIterations && !this.#stopping; n++) {
      let blob: { ref: unknown; cid: string; mimeType: string; size: number } | undefined;
      if (n % this.#o.uploadEvery === this.#o.uploadEvery - 1) {
        const bytes = fakePng(2048);
        const res = await this.#request("upload", "/xrpc/com.atproto.repo.uploadBlob", account.token, bytes, "image/png");
        const b = (res?.blob ?? undefined) as { ref?: { $link?: string }; mimeType: string; size: number } | undefined;
        if (b?.ref?.$link) blob = { ref: b.ref, cid: b.ref.$link, mimeType: b.mimeType, size: b.size };
      }
      const record: Record<string, unknown> = { $type: "app.bsky.feed.post", text: `w${i} #${n}`, createdAt: new Date().toISOString() };
      if (blob) {
        record.embed = {
          $type: "app.bsky.embed.images",
          images: [{ alt: "", image: { $type: "blob", ref: blob.ref, mimeType: blob.mimeType, size: blob.size } }],
        };
      }
      const startedAt = Date.now();
      const body = { repo: account.did, collection: "app.bsky.feed.post", record };
      const res = await this.#request("write", "/xrpc/com.atproto.repo.createRecord", account.token, JSON.stringify(body), "application/json");
      if (res && typeof res.uri === "string" && typeof res.cid === "string") {
        this.ledger.push({ did: account.did, uri: res.uri, cid: res.cid, blob: blob?.cid, startedAt, ackedAt: Date.now() });
      }
      await Bun.sleep(this.#o.pauseMs);
    }
  }

  async #reader(): Promise<void> {
    for (let n = 0; n < this.#o.maxIterations && !this.#stopping; n++) {
      const ack = this.ledger[Math.floor(Math.random() * this.ledger.length)];
      if (!ack) {
        await Bun.sleep(100);
        continue;
      }
      const [, , repo, collection, rkey] = ack.uri.split("/");
      const query = new URLSearchParams({ repo: repo!, collection: collection!, rkey: rkey! });
      await this.#request("read", `/xrpc/com.atproto.repo.getRecord?${query}`, undefined);
      await Bun.sleep(this.#o.pauseMs * 2);
    }
  }

  /** One request with its timeout; tallied; the parsed JSON body of a 200, else undefined. */
  async #request(kind: RequestKind, path: string, token: string | undefined, body?: string | Uint8Array<ArrayBuffer>, type?: string): Promise<any> {
    const phase = this.phase;
    const startedAt = Date.now();
    const sample = (outcome: Outcome, detail?: string) =>
      this.samples.push({ kind, outcome, phase, startedAt, ms: Date.now() - startedAt, ...(detail ? { detail } : {}) });
    try {
      const res = await fetch(`${this.#o.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { ...(type ? { "content-type": type } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      const text = await res.text();
      if (res.status !== 200) {
        sample(res.status, `${path.split("?")[0]} ${text.slice(0, 200)}`);
        return undefined;
      }
      try {
        const parsed = JSON.parse(text);
        sample(200);
        return parsed;
      } catch {
        sample(200, `unparsable 200 body: ${text.slice(0, 200)}`);
        return undefined;
      }
    } catch (err) {
      const name = (err as Error).name;
      sample(name === "TimeoutError" || name === "AbortError" ? "timeout" : "network", `${path.split("?")[0]} ${err}`);
      return undefined;
    }
  }
}
