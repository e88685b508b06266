import { Counter, type Registry } from "prom-client";
import type { CachePlugin } from "@/contracts/cache";
import { takeTurn } from "@/cache/turn";
import type { Logger } from "@/log";

export interface CrawlerNotifierOptions {
  /** Relay base URLs (config `crawlers`, PDS_CRAWLERS). */
  relays: readonly string[];
  /** Our public hostname, sent as requestCrawl's `hostname`. */
  hostname: string;
  /** Shares the throttle between nodes when the cache is shared (Redis). */
  cache: CachePlugin;
  log: Logger;
  registry: Registry;
  /** Least time between two requests to one relay, in ms. @default 1200000 (20 minutes, like the reference PDS) */
  intervalMs?: number;
  /** Give up on a relay's answer after this many ms. @default 10000 */
  timeoutMs?: number;
}

export interface CrawlerNotifier {
  /**
   * New events exist: ask each relay to crawl us, unless it was asked within
   * the interval (by this node, or by any node sharing the cache). Returns at
   * once; the requests run in the background and failures are only logged.
   */
  notifyOfUpdate(): void;
  /** Resolves when the requests in flight have finished (tests, shutdown). */
  settled(): Promise<void>;
}

/**
 * Calls `com.atproto.sync.requestCrawl` on each configured relay after new
 * events. Never on the write path: the firehose tail calls it after it has
 * read new events, and nothing waits for the relays.
 */
export function createCrawlerNotifier(options: CrawlerNotifierOptions): CrawlerNotifier {
  const intervalMs = options.intervalMs ?? 20 * 60 * 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const lastAttempt = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const requests = new Counter({
    name: "aurora_crawler_requests_total",
    help: "requestCrawl calls to relays, by result (ok, error)",
    labelNames: ["result"] as const,
    registers: [options.registry],
  });

  const request = async (relay: string) => {
    // Once per interval across every node sharing the cache (this node's own throttle still applies when it cannot answer).
    if (!(await takeTurn(options.cache, `requestCrawl:${relay}`, intervalMs / 1000))) return;
    try {
      const res = await fetch(`${relay}/xrpc/com.atproto.sync.requestCrawl`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hostname: options.hostname }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      requests.inc({ result: "ok" });
      options.log.info("requestCrawl sent", { relay });
    } catch (err) {
      requests.inc({ result: "error" });
      options.log.warn("requestCrawl failed", { relay, err });
    }
  };

  return {
    notifyOfUpdate() {
      const now = Date.now();
      for (const relay of options.relays) {
        const last = lastAttempt.get(relay);
        if (last !== undefined && now - last < intervalMs) continue;
        lastAttempt.set(relay, now);
        const running = request(relay);
        inFlight.add(running);
        void running.finally(() => inFlight.delete(running));
      }
    },
    async settled() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
