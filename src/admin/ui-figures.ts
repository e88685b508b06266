import type { Registry } from "prom-client";

/**
 * The admin page's key figures, read from this node's metrics registry (the
 * same numbers /metrics exports): counters since this process started,
 * gauges as they are now. A cluster's totals are the sum over its nodes;
 * the page says these are this node's.
 */
export interface KeyFigures {
  requests: number;
  /** Responses with a 5xx status. */
  serverErrors: number;
  /** Request latency quantiles in seconds, estimated from the histogram buckets; null before any request. */
  latencyP50: number | null;
  latencyP95: number | null;
  firehoseSubscribers: number;
  /** Bytes of blobs stored (the whole server's, read from the database). */
  storageBytes: number;
}

interface Sample {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return ((await metric.get()).values ?? []) as Sample[];
}

const sum = (values: Sample[]) => values.reduce((total, s) => total + s.value, 0);

/** Reads every figure; a metric that is not registered counts as zero. */
export async function keyFigures(registry: Registry): Promise<KeyFigures> {
  const [requests, duration, subscribers, storage] = await Promise.all([
    samples(registry, "aurora_http_requests_total"),
    samples(registry, "aurora_http_request_duration_seconds"),
    samples(registry, "aurora_firehose_subscribers"),
    samples(registry, "aurora_blob_storage_bytes"),
  ]);
  const buckets = bucketTotals(duration);
  return {
    requests: sum(requests),
    serverErrors: sum(requests.filter((s) => String(s.labels.status ?? "").startsWith("5"))),
    latencyP50: quantile(buckets, 0.5),
    latencyP95: quantile(buckets, 0.95),
    firehoseSubscribers: sum(subscribers),
    storageBytes: sum(storage),
  };
}

/** Cumulative counts per upper bound, summed over every label set, sorted by bound (+Inf last). */
function bucketTotals(values: Sample[]): [number, number][] {
  const totals = new Map<number, number>();
  for (const s of values) {
    if (!s.metricName?.endsWith("_bucket")) continue;
    const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    totals.set(le, (totals.get(le) ?? 0) + s.value);
  }
  return [...totals.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside the
 * bucket it falls in (as Prometheus' histogram_quantile does); a quantile in
 * the +Inf bucket is the largest finite bound.
 */
export function quantile(buckets: readonly [number, number][], q: number): number | null {
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count === 0) return null;
  const rank = q * count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, cumulative] of buckets) {
    if (cumulative >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lowerBound;
      const inBucket = cumulative - lowerCount;
      return inBucket === 0 ? bound : lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bound;
    lowerCount = cumulative;
  }
  return lowerBound;
}
