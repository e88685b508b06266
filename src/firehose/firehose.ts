import type { Server, WebSocketHandler } from "bun";
import type { Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";
import type { CrawlerNotifier } from "@/crawlers/notifier";
import { json } from "@/http/respond";
import type { Logger } from "@/log";
import type { SeqReader } from "@/sequencer/reader";
import { createFirehoseMetrics } from "./metrics";
import { Subscriber } from "./subscriber";
import { EventTail } from "./tail";

export const SUBSCRIBE_REPOS_PATH = "/xrpc/com.atproto.sync.subscribeRepos";
/** How often per-subscriber lag is sampled (and stalled queues re-pumped), in ms. */
const TICK_MS = 1000;

/** The config's `firehose` section (see src/config/schema.ts for meanings and defaults). */
export interface FirehoseOptions {
  readonly backfillHours: number;
  readonly maxBufferedEvents: number;
  readonly keepaliveMs: number;
  readonly pollIntervalMs: number;
}

/** Per-connection data Bun keeps on each WebSocket. */
export interface SocketData {
  cursor: number | undefined;
  subscriber?: Subscriber;
}

export interface Firehose {
  readonly tail: EventTail;
  /** Bun.serve's `websocket` handlers. */
  readonly websocket: WebSocketHandler<SocketData>;
  /**
   * For Bun.serve's fetch: "upgraded" when the request became a subscription,
   * a Response when it was a subscription request we refuse (bad cursor),
   * undefined when it is not a WebSocket request for subscribeRepos.
   */
  upgrade(request: Request, server: Server<SocketData>): "upgraded" | Response | undefined;
  /** Open subscriptions on this node. */
  readonly size: number;
  start(): Promise<void>;
  /** Close every subscription (1001 going away) and stop reading events. */
  close(): Promise<void>;
}

export interface FirehoseDeps {
  db: DatabasePlugin;
  reader: SeqReader;
  options: FirehoseOptions;
  log: Logger;
  registry: Registry;
  crawlers: CrawlerNotifier;
}

/**
 * subscribeRepos on this node: one tail reading `repo_seq`, fanned out to
 * every WebSocket subscriber. Any node serves the complete stream.
 */
export function createFirehose({ db, reader, options, log, registry, crawlers }: FirehoseDeps): Firehose {
  const subscribers = new Set<Subscriber>();
  const metrics = createFirehoseMetrics(registry, () => [...subscribers].map((s) => lagOf(s)));
  const tail = new EventTail(db, reader, options.pollIntervalMs, log, (events) => {
    for (const event of events) metrics.events.inc({ type: event.type });
    crawlers.notifyOfUpdate();
  });
  const lagOf = (s: Subscriber) => (s.position < 0 ? 0 : Math.max(0, tail.head - s.position));
  let keepaliveTimer: Timer | undefined;
  let tickTimer: Timer | undefined;
  let closed = false;

  const startTimers = () => {
    keepaliveTimer ??= setInterval(() => {
      for (const s of subscribers) s.keepalive();
    }, options.keepaliveMs);
    tickTimer ??= setInterval(() => {
      for (const s of subscribers) {
        metrics.lag.observe(lagOf(s));
        s.onDrain();
      }
    }, TICK_MS);
  };
  const stopTimers = () => {
    clearInterval(keepaliveTimer);
    clearInterval(tickTimer);
    keepaliveTimer = tickTimer = undefined;
  };

  const websocket: WebSocketHandler<SocketData> = {
    // Our own keepalive (pings every keepaliveMs, cut without a pong) replaces Bun's idle timeout.
    idleTimeout: 0,
    sendPings: false,
    // Subscribers keep far below this (HIGH_WATER_BYTES plus one frame); past it Bun would drop frames.
    backpressureLimit: 64 * 1024 * 1024,
    // The stream is one-way: consumers have nothing to send but control frames.
    maxPayloadLength: 64 * 1024,
    perMessageDeflate: false,
    open(ws) {
      const subscriber = new Subscriber(ws, {
        tail,
        reader,
        maxBufferedEvents: options.maxBufferedEvents,
        backfillMs: options.backfillHours * 3_600_000,
        log,
        onEnd: (reason) => {
          subscribers.delete(subscriber);
          metrics.subscribers.dec();
          metrics.disconnects.inc({ reason });
          log.info("firehose: subscriber left", { reason, position: subscriber.position });
          if (subscribers.size === 0) stopTimers();
        },
      });
      ws.data.subscriber = subscriber;
      subscribers.add(subscriber);
      metrics.subscribers.inc();
      startTimers();
      log.info("firehose: subscriber joined", { cursor: ws.data.cursor ?? null });
      if (closed) return subscriber.shutdown();
      void subscriber.run(ws.data.cursor);
    },
    message() {},
    drain(ws) {
      ws.data.subscriber?.onDrain();
    },
    pong(ws) {
      ws.data.subscriber?.onPong();
    },
    close(ws) {
      ws.data.subscriber?.onClose();
    },
  };

  return {
    tail,
    websocket,
    get size() {
      return subscribers.size;
    },
    upgrade(request, server) {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return undefined;
      if (new URL(request.url).pathname !== SUBSCRIBE_REPOS_PATH) return undefined;
      if (closed) return json({ error: "ServiceUnavailable", message: "Server shutting down" }, 503);
      const raw = new URL(request.url).searchParams.get("cursor");
      let cursor: number | undefined;
      if (raw !== null && raw !== "") {
        cursor = Number(raw);
        if (!/^\d+$/.test(raw) || !Number.isSafeInteger(cursor)) {
          return json({ error: "InvalidRequest", message: "Invalid param cursor: expected a non-negative integer" }, 400);
        }
      }
      if (server.upgrade(request, { data: { cursor } })) return "upgraded";
      return json({ error: "InvalidRequest", message: "WebSocket upgrade failed" }, 400);
    },
    start: () => tail.start(),
    async close() {
      closed = true;
      for (const s of [...subscribers]) s.shutdown();
      stopTimers();
      await tail.close();
    },
  };
}
