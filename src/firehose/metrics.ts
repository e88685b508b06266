import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The firehose's metrics, on the context's registry. Per-subscriber values are aggregated: no label per connection. */
export function createFirehoseMetrics(registry: Registry, lags: () => number[]) {
  return {
    subscribers: new Gauge({
      name: "aurora_firehose_subscribers",
      help: "Open subscribeRepos connections on this node",
      registers: [registry],
    }),
    events: new Counter({
      name: "aurora_firehose_events_total",
      help: "Events this node read from the sequence and emitted to its subscribers, by type",
      labelNames: ["type"] as const,
      registers: [registry],
    }),
    disconnects: new Counter({
      name: "aurora_firehose_disconnects_total",
      help: "subscribeRepos connections ended, by reason (client, too_slow, future_cursor, no_pong, error, shutdown)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: "aurora_firehose_refused_total",
      help: "subscribeRepos upgrades refused before the socket opened, by reason (node_full, ip_full, shutdown)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    lag: new Histogram({
      name: "aurora_firehose_subscriber_lag_events",
      help: "Per-subscriber lag, sampled every second: the node's newest seq minus the last seq sent to the subscriber",
      buckets: [0, 1, 10, 100, 500, 1000, 10_000, 100_000, 1_000_000],
      registers: [registry],
    }),
    maxLag: new Gauge({
      name: "aurora_firehose_subscriber_lag_max_events",
      help: "Largest lag of any subscriber on this node (newest seq minus last seq sent), at scrape time",
      registers: [registry],
      collect() {
        this.set(Math.max(0, ...lags()));
      },
    }),
  };
}

export type FirehoseMetrics = ReturnType<typeof createFirehoseMetrics>;
