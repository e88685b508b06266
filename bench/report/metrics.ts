import type { TargetResult } from "../suite";

export interface Metric {
  label: string;
  unit: string;
  /** Which way is better, to turn a ratio into "times better". */
  better: "higher" | "lower";
  value(r: TargetResult): number | undefined;
  /** The goal as a ratio Aurora / reference (≥ for higher-is-better, ≤ for lower-is-better). */
  goal?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every figure the table and chart show, in reading order. */
export const METRICS: Metric[] = [
  { label: "createRecord throughput", unit: "req/s", better: "higher", value: (r) => r.createRecord?.perSecond, goal: 10 },
  { label: "createRecord p50", unit: "ms", better: "lower", value: (r) => r.createRecord?.latencyMs.p50 },
  { label: "createRecord p99", unit: "ms", better: "lower", value: (r) => r.createRecord?.latencyMs.p99 },
  { label: "createRecord server CPU", unit: "ms/req", better: "lower", value: (r) => r.createRecord?.serverCpuMsPerRequest },
  { label: "getRecord throughput", unit: "req/s", better: "higher", value: (r) => r.getRecord?.perSecond, goal: 5 },
  { label: "getRecord p99", unit: "ms", better: "lower", value: (r) => r.getRecord?.latencyMs.p99 },
  { label: "listRecords throughput", unit: "req/s", better: "higher", value: (r) => r.listRecords?.perSecond },
  { label: "listRecords p99", unit: "ms", better: "lower", value: (r) => r.listRecords?.latencyMs.p99 },
  { label: "uploadBlob 1 MB", unit: "MB/s", better: "higher", value: (r) => r.uploadBlob?.mbPerSecond },
  { label: "getRepo export", unit: "s", better: "lower", value: (r) => r.getRepo?.seconds },
  { label: "getRepo peak RSS", unit: "MB", better: "lower", value: (r) => r.getRepo?.peakRssMb },
  { label: "firehose end-to-end p50", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.endToEndMs.p50 },
  { label: "firehose end-to-end p99", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.endToEndMs.p99 },
  { label: "firehose delivery p99", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.deliveryMs.p99 },
  { label: "RSS idle", unit: "MB", better: "lower", value: (r) => r.rssIdleMb },
  { label: "RSS after load", unit: "MB", better: "lower", value: (r) => r.rssAfterLoadMb },
  { label: "RSS peak under load", unit: "MB", better: "lower", value: (r) => r.peakRssLoadMb, goal: 0.25 },
  { label: "cold start", unit: "ms", better: "lower", value: (r) => median(r.coldStartMs) },
];

/** Aurora / reference; undefined when either side has no figure. */
export function ratio(metric: Metric, aurora: TargetResult, reference: TargetResult): number | undefined {
  const a = metric.value(aurora);
  const b = metric.value(reference);
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

/** How many times better Aurora is (> 1) or worse (< 1), whichever way the metric points. */
export function improvement(metric: Metric, r: number): number {
  return metric.better === "higher" ? r : 1 / r;
}

export function goalMet(metric: Metric, r: number): boolean | undefined {
  if (metric.goal === undefined) return undefined;
  return metric.better === "higher" ? r >= metric.goal : r <= metric.goal;
}
