import type { TargetResult } from "../suite";
import { goalMet, METRICS, ratio } from "./metrics";
import { type BenchResults, runStamp } from "./results";

/** The results as markdown: absolute figures, Aurora / reference ratios, and what the client itself used. */
export function renderTable(results: BenchResults): string {
  const reference = results.targets.find((t) => t.name === "reference");
  const auroras = results.targets.filter((t) => t.name !== "reference");
  const { machine: m, versions: v, options: o } = results;
  const lines = [
    `# Aurora and the reference PDS, side by side (${runStamp(results.date)})`,
    "",
    `Machine: ${m.cores} cores, ${m.model}, ${m.memoryGb} GB RAM, Linux ${m.kernel}. ` +
      `Aurora ${v.aurora} (Bun ${v.bun}, ${o.aurora === "source" ? "from source" : "compiled binary"}); ` +
      (v.reference ? `reference @atproto/pds ${v.reference} (Node ${v.referenceNode}). ` : "reference not run. ") +
      `Client: Bun ${v.bun} with raw fetch on the same machine; servers run one at a time.`,
    "",
    ...results.targets.map((t) => `- **${t.name}**: ${t.description}`),
    "",
    `Ratios are Aurora / reference (higher is better for throughput, lower for latency, time and memory); ` +
      `✓/✗ against the goal where the issue sets one.`,
    "",
  ];
  const header = ["Metric", ...(reference ? ["reference"] : []), ...auroras.flatMap((a) => (reference ? [a.name, "ratio"] : [a.name])), "goal"];
  lines.push(row(header), row(header.map((_, i) => (i === 0 ? "---" : "---:"))));
  for (const metric of METRICS) {
    const cells = [`${metric.label} (${metric.unit})`];
    if (reference) cells.push(fmt(metric.value(reference)));
    for (const a of auroras) {
      cells.push(fmt(metric.value(a)));
      if (!reference) continue;
      const r = ratio(metric, a, reference);
      const met = r === undefined ? undefined : goalMet(metric, r);
      cells.push(r === undefined ? "–" : `${fmt(r)}${met === undefined ? "" : met ? " ✓" : " ✗"}`);
    }
    cells.push(metric.goal === undefined ? "" : `${metric.better === "higher" ? "≥" : "≤"} ${metric.goal}`);
    lines.push(row(cells));
  }
  lines.push("", ...loadTable(results.targets, results.machine.cores), "", ...settings(o), ...failures(results));
  return `${lines.join("\n")}\n`;
}

/** Client and server CPU per workload: the client must stay well below a core for the figures to be the server's. */
function loadTable(targets: TargetResult[], cores: number): string[] {
  const header = ["Workload", ...targets.flatMap((t) => [`${t.name} client`, "server", "machine"])];
  const lines = [`CPU during each workload in cores (${cores} here): the load generator, the server process, and the whole machine (databases and anything else running included):`, "", row(header), row(header.map((_, i) => (i === 0 ? "---" : "---:")))];
  const workloads = ["createRecord", "getRecord", "listRecords", "uploadBlob", "subscribeRepos"] as const;
  for (const w of workloads) {
    const cells: string[] = [w];
    for (const t of targets) {
      const r = t[w];
      cells.push(fmt(r?.clientCpu), fmt(r?.serverCpu), fmt(r?.machineCpu));
    }
    lines.push(row(cells));
  }
  return lines;
}

function settings(o: Record<string, unknown>): string[] {
  return [
    `Settings: ${o.accounts} accounts; createRecord concurrency ${o.writeConcurrency}; getRecord/listRecords concurrency ${o.readConcurrency}; ` +
      `uploadBlob concurrency ${o.blobConcurrency}; ${o.seconds} s per throughput workload; getRepo of ${o.repoRecords} records, ` +
      `median of ${o.exportRuns}; ${o.subscribers} firehose subscribers at ${o.firehoseRate} commits/s; cold start median of ${o.coldStarts}.`,
  ];
}

function failures(results: BenchResults): string[] {
  const lines: string[] = [];
  for (const [name, message] of Object.entries(results.failures)) lines.push(`- ${name} did not run: ${firstLine(message)}`);
  for (const t of results.targets) {
    for (const [w, message] of Object.entries(t.failures)) lines.push(`- ${t.name} ${w} failed: ${firstLine(message ?? "")}`);
  }
  return lines.length ? ["", "Failures:", "", ...lines] : [];
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.slice(0, 200).replaceAll("|", "\\|");
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  const abs = Math.abs(v);
  return v.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}
