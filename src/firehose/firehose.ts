import type { WebSocketHandler } from "bun";
import type { Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";
import type { CrawlerNotifier } from "@/crawlers/notifier";
import { RateLimitExceededError, XrpcError } from "@/errors";
import type { Logger } from "@/log";
import type { SeqReader } from "@/sequencer/reader";
import { Semaphore } from "@/util/semaphore";
import { UPGRADED } from "@/xrpc/upgraded";
import { createFirehoseMetrics } from "./metrics";
import { Subscriber } from "./subscriber";
import { EventTail } from "./tail";

/** How often per-subscriber lag is sampled (and stalled queues re-pumped), in ms. */
const TICK_MS = 1000;

/** The config's `firehose` section (see src/config/schema.ts for meanings and defaults). */
export interface FirehoseOptions {
  readonly backfillHours: number;
  readonly maxBufferedEvents: number;
  readonly keepaliveMs: number;
  readonly pollIntervalMs: number;
  readonly maxSubscribers: number;
  readonly maxSubscribersPerIp: number;
  readonly maxConcurrentBackfills: number;
}

/** A subscription request that passed the request path (routing, rate limits, params). */
export interface SubscribeRequest {
  readonly cursor: number | undefined;
  readonly ip: string;
  /** Bun's `server.upgrade` for this request, with the socket's data. */
  readonly upgrade: (data: SocketData) => boolean;
}

/** Per-connection data Bun keeps on each WebSocket. */
export interface SocketData {
  cursor: number | undefined;
  /** The client IP the connection is counted against. */
  ip: string;
  subscriber?: Subscriber;
}

export interface Firehose {
  readonly tail: EventTail;
  /** Bun.serve's `websocket` handlers. */
  readonly websocket: WebSocketHandler<SocketData>;
  /**
   * Open a subscription for a request that came through the request path:
   * refused before the upgrade with 503 (shutting down, or the node holds
   * `maxSubscribers`), 429 (the client IP holds `maxSubscribersPerIp`) or
   * 426 (not a WebSocket request); UPGRADED once the socket is open.
   */
  accept(request: Request, sub: SubscribeRequest): Response;
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
  const backfills = new Semaphore(options.maxConcurrentBackfills);
  // Connections count from the moment they are upgraded (before Bun calls open), so a burst cannot pass the caps.
  const perIp = new Map<string, number>();
  let connections = 0;
  const release = (ip: string) => {
    connections--;
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };
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
        backfills,
        log,
        onEnd: (reason) => {
          release(ws.data.ip);
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
    accept(request, { cursor, ip, upgrade }) {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        throw new XrpcError(426, "InvalidRequest", "com.atproto.sync.subscribeRepos is an event stream: connect with a WebSocket");
      }
      const refuse = (reason: string, err: XrpcError) => {
        metrics.refused.inc({ reason });
        throw err;
      };
      if (closed) refuse("shutdown", new XrpcError(503, "ServiceUnavailable", "Server shutting down"));
      if (connections >= options.maxSubscribers) {
        refuse("node_full", new XrpcError(503, "ServiceUnavailable", "This node has no room for more subscribers; retry later or elsewhere"));
      }
      if ((perIp.get(ip) ?? 0) >= options.maxSubscribersPerIp) {
        refuse("ip_full", new RateLimitExceededError("Too many subscriptions from this address"));
      }
      if (!upgrade({ cursor, ip })) throw new XrpcError(400, "InvalidRequest", "WebSocket upgrade failed");
      connections++;
      perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
      return UPGRADED;
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
