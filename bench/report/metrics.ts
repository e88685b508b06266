import type { TargetResult } from "../suite";

/** A figure issue 19 sets for Aurora; "≥" for higher-is-better metrics, "≤" for lower-is-better. */
export interface Goal {
  /** reference: Aurora / reference in the same run; absolute: Aurora's own figure; previous: Aurora / the same target in the baseline run. */
  against: "reference" | "absolute" | "previous";
  value: number;
  /** The Aurora targets it applies to; all of them when absent. */
  targets?: string[];
}

export interface Metric {
  label: string;
  unit: string;
  /** Which way is better, to turn a ratio into "times better". */
  better: "higher" | "lower";
  value(r: TargetResult): number | undefined;
  goals?: Goal[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const SQLITE = ["aurora-sqlite"];
const PG = ["aurora-pg", "aurora-pg-socket", "aurora-pg-2"];
/** Share of the expected #commit frames (commits × subscribers) that arrived, %. */
const deliveredPercent = (r: TargetResult) => (r.subscribeRepos ? (100 * r.subscribeRepos.delivered) / r.subscribeRepos.expected : undefined);

/** Every figure the table and chart show, in reading order, with issue 19's targets. */
export const METRICS: Metric[] = [
  {
    label: "createRecord throughput",
    unit: "req/s",
    better: "higher",
    value: (r) => r.createRecord?.perSecond,
    goals: [
      { against: "reference", value: 10, targets: SQLITE },
      { against: "reference", value: 6, targets: PG },
    ],
  },
  { label: "createRecord p50", unit: "ms", better: "lower", value: (r) => r.createRecord?.latencyMs.p50 },
  { label: "createRecord p99", unit: "ms", better: "lower", value: (r) => r.createRecord?.latencyMs.p99, goals: [{ against: "previous", value: 1 }] },
  {
    label: "createRecord server CPU",
    unit: "ms/req",
    better: "lower",
    value: (r) => r.createRecord?.serverCpuMsPerRequest,
    goals: [{ against: "absolute", value: 0.7, targets: SQLITE }],
  },
  { label: "applyWrites ×200 calls", unit: "calls/s", better: "higher", value: (r) => r.applyWrites?.perSecond },
  { label: "applyWrites ×200 writes", unit: "writes/s", better: "higher", value: (r) => r.applyWrites?.writesPerSecond },
  { label: "applyWrites ×200 p50", unit: "ms", better: "lower", value: (r) => r.applyWrites?.latencyMs.p50 },
  { label: "applyWrites ×200 p99", unit: "ms", better: "lower", value: (r) => r.applyWrites?.latencyMs.p99 },
  { label: "applyWrites ×200 server CPU", unit: "ms/call", better: "lower", value: (r) => r.applyWrites?.serverCpuMsPerRequest },
  { label: "getRecord throughput", unit: "req/s", better: "higher", value: (r) => r.getRecord?.perSecond, goals: [{ against: "reference", value: 25 }] },
  { label: "getRecord p50", unit: "ms", better: "lower", value: (r) => r.getRecord?.latencyMs.p50 },
  { label: "getRecord p99", unit: "ms", better: "lower", value: (r) => r.getRecord?.latencyMs.p99 },
  { label: "listRecords throughput", unit: "req/s", better: "higher", value: (r) => r.listRecords?.perSecond, goals: [{ against: "reference", value: 10 }] },
  { label: "listRecords p50", unit: "ms", better: "lower", value: (r) => r.listRecords?.latencyMs.p50 },
  { label: "listRecords p99", unit: "ms", better: "lower", value: (r) => r.listRecords?.latencyMs.p99 },
  { label: "uploadBlob 1 MB", unit: "MB/s", better: "higher", value: (r) => r.uploadBlob?.mbPerSecond },
  { label: "uploadBlob server CPU", unit: "ms/MB", better: "lower", value: (r) => r.uploadBlob?.serverCpuMsPerRequest },
  { label: "getRepo export", unit: "s", better: "lower", value: (r) => r.getRepo?.seconds, goals: [{ against: "reference", value: 0.2 }] },
  { label: "getRepo peak RSS", unit: "MB", better: "lower", value: (r) => r.getRepo?.peakRssMb },
  { label: "firehose frames delivered", unit: "%", better: "higher", value: deliveredPercent },
  { label: "firehose delivery p50", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.deliveryMs.p50 },
  { label: "firehose delivery p99", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.deliveryMs.p99 },
  { label: "firehose end-to-end p50", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.endToEndMs.p50 },
  { label: "firehose end-to-end p99", unit: "ms", better: "lower", value: (r) => r.subscribeRepos?.endToEndMs.p99 },
  { label: "firehose server CPU, writes included", unit: "cores", better: "lower", value: (r) => r.subscribeRepos?.serverCpu },
  { label: "RSS idle", unit: "MB", better: "lower", value: (r) => r.rssIdleMb },
  { label: "RSS after load", unit: "MB", better: "lower", value: (r) => r.rssAfterLoadMb, goals: [{ against: "reference", value: 0.25 }] },
  { label: "RSS peak under load", unit: "MB", better: "lower", value: (r) => r.peakRssLoadMb, goals: [{ against: "reference", value: 0.3 }] },
  { label: "cold start", unit: "ms", better: "lower", value: (r) => median(r.coldStartMs) },
];

/** The goals of a metric that apply to one Aurora target. */
export function goalsFor(metric: Metric, target: string): Goal[] {
  return (metric.goals ?? []).filter((g) => !g.targets || g.targets.includes(target));
}

/** "≥ 10× reference (aurora-sqlite)", "≤ 0.7 ms/req", "≤ 1× previous run". */
export function goalText(metric: Metric, goal: Goal): string {
  const op = metric.better === "higher" ? "≥" : "≤";
  const what = goal.against === "absolute" ? `${goal.value} ${metric.unit}` : `${goal.value}× ${goal.against === "reference" ? "reference" : "previous run"}`;
  return `${op} ${what}${goal.targets ? ` (${goal.targets.join(", ")})` : ""}`;
}

/** The figure a goal is judged on (a ratio, or Aurora's own value) and whether it is met; undefined where a side has no figure. */
export function judge(
  metric: Metric,
  goal: Goal,
  aurora: TargetResult,
  reference: TargetResult | undefined,
  previous: number | undefined,
): { figure: number; met: boolean } | undefined {
  let figure: number | undefined;
  if (goal.against === "absolute") figure = metric.value(aurora);
  else if (goal.against === "reference") figure = reference ? ratio(metric, aurora, reference) : undefined;
  else figure = finite(metric.value(aurora)) && finite(previous) && previous !== 0 ? metric.value(aurora)! / previous! : undefined;
  if (figure === undefined || !Number.isFinite(figure)) return undefined;
  return { figure, met: metric.better === "higher" ? figure >= goal.value : figure <= goal.value };
}

function finite(v: number | undefined): boolean {
  return v !== undefined && Number.isFinite(v);
}

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
