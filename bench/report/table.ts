import type { TargetResult } from "../suite";
import type { WriteProfile } from "../workloads/write-profile";
import { goalsFor, goalText, judge, type Metric, METRICS, ratio } from "./metrics";
import { type BenchResults, runStamp } from "./results";

/** The results as markdown: absolute figures, Aurora / reference ratios, issue 19's targets, what the client used, the write profile. */
export function renderTable(results: BenchResults): string {
  const reference = results.targets.find((t) => t.name === "reference");
  const auroras = results.targets.filter((t) => t.name !== "reference");
  const { machine: m, versions: v, options: o } = results;
  const previous = (metric: Metric, target: string) => results.baseline?.values[target]?.[metric.label];
  const mark = (metric: Metric, a: TargetResult, against: (g: { against: string }) => boolean) =>
    goalsFor(metric, a.name)
      .filter(against)
      .map((g) => judge(metric, g, a, reference, previous(metric, a.name)))
      .map((j) => (j === undefined ? "" : j.met ? " ✓" : " ✗"))
      .join("");
  const readClient = results.readClient === "wrk" ? "wrk (--latency, a Lua script rotating the URLs) for getRecord/listRecords" : "raw fetch for getRecord/listRecords too";
  const lines = [
    `# Aurora and the reference PDS, side by side (${runStamp(results.date)})`,
    "",
    `Machine: ${m.cores} cores, ${m.model}, ${m.memoryGb} GB RAM, Linux ${m.kernel}. ` +
      `Aurora ${v.aurora} (Bun ${v.bun}, ${o.aurora === "source" ? "from source" : "compiled binary"}); ` +
      (v.reference ? `reference @atproto/pds ${v.reference} (Node ${v.referenceNode}). ` : "reference not run. ") +
      `Client on the same machine: Bun ${v.bun} with raw fetch for writes and blobs, ${readClient}; ` +
      `firehose subscribers in separate Bun processes. Servers run one at a time.`,
    "",
    ...results.targets.map((t) => `- **${t.name}**: ${t.description}; uploadBlob stores to ${t.blobstore ?? "disk"}`),
    "",
    `Ratios are Aurora / reference (higher is better for throughput, lower for latency, time and memory); ` +
      `✓/✗ against issue 19's targets: on the ratio for a target relative to the reference, on the figure for an absolute one or one against ` +
      (results.baseline ? `the previous run (${results.baseline.date.slice(0, 10)}, ${results.baseline.file}).` : "the previous run (none loaded)."),
    "",
  ];
  const header = ["Metric", ...(reference ? ["reference"] : []), ...auroras.flatMap((a) => (reference ? [a.name, "ratio"] : [a.name])), "target"];
  lines.push(row(header), row(header.map((_, i) => (i === 0 ? "---" : "---:"))));
  for (const metric of METRICS) {
    const cells = [`${metric.label} (${metric.unit})`];
    if (reference) cells.push(fmt(metric.value(reference)));
    for (const a of auroras) {
      cells.push(`${fmt(metric.value(a))}${mark(metric, a, (g) => g.against !== "reference")}`);
      if (!reference) continue;
      const r = ratio(metric, a, reference);
      cells.push(`${r === undefined ? "–" : fmt(r)}${mark(metric, a, (g) => g.against === "reference")}`);
    }
    cells.push((metric.goals ?? []).map((g) => goalText(metric, g)).join("; "));
    lines.push(row(cells));
  }
  lines.push("", ...targetsMet(auroras, reference, previous));
  lines.push("", ...loadTable(results.targets, results.machine.cores), "", ...fanOutDetails(results.targets));
  if (results.writeProfile) lines.push("", ...profileSection(results.writeProfile));
  lines.push("", ...settings(o), ...failures(results));
  return `${lines.join("\n")}\n`;
}

/** Every target of issue 19, per Aurora target, with the figure it is judged on. */
function targetsMet(
  auroras: TargetResult[],
  reference: TargetResult | undefined,
  previous: (metric: Metric, target: string) => number | undefined,
): string[] {
  const lines = ["## Targets (issue 19)", "", row(["Target", "Metric", "Goal", "Figure", "Met"]), row(["---", "---", "---", "---:", "---"])];
  let met = 0;
  let total = 0;
  for (const a of auroras) {
    for (const metric of METRICS) {
      for (const goal of goalsFor(metric, a.name)) {
        const before = previous(metric, a.name);
        const j = judge(metric, goal, a, reference, before);
        total++;
        if (j?.met) met++;
        const figure =
          j === undefined
            ? goal.against === "previous" && before === undefined
              ? "no previous figure"
              : "no figure"
            : goal.against === "absolute"
              ? `${fmt(j.figure)} ${metric.unit}`
              : goal.against === "previous"
                ? `${fmt(j.figure)}× (${fmt(before)} → ${fmt(metric.value(a))} ${metric.unit})`
                : `${fmt(j.figure)}×`;
        lines.push(row([a.name, `${metric.label} (${metric.unit})`, goalText(metric, goal).replace(/ \(.*\)$/, ""), figure, j === undefined ? "–" : j.met ? "✓" : "✗"]));
      }
    }
  }
  lines.push("", `${met} of ${total} met${reference ? "" : " (no reference in this run: ratio targets have no figure)"}.`);
  return lines;
}

/** What the firehose fan-out did, beyond its latency rows. */
function fanOutDetails(targets: TargetResult[]): string[] {
  const lines: string[] = [];
  for (const t of targets) {
    const f = t.subscribeRepos;
    if (!f) continue;
    lines.push(
      `- ${t.name} firehose: ${f.subscribers} subscribers in ${f.clientProcesses} subscriber process${f.clientProcesses === 1 ? "" : "es"} (${f.sampledSubscribers} decoding every frame for latency), ` +
        `${f.commits} commits, ${f.delivered} of ${f.expected} #commit frames delivered, ${f.completeSubscribers} subscribers complete, ` +
        `${fmt(f.framesPerSecond)} frames/s, server CPU ${fmt(f.serverCpuMsPerFrame * 1000)} µs per frame (writes included), frames by type ${JSON.stringify(f.frameTypes)}${f.closedEarly ? `, ${f.closedEarly} closed early` : ""}`,
    );
  }
  return lines.length ? ["Firehose fan-out, every frame of every subscriber counted:", "", ...lines] : [];
}

/** bench/profile-write.ts under Bun's profiler: its figures and where a write's CPU goes. */
function profileSection(p: WriteProfile): string[] {
  return [
    "## Write path profile",
    "",
    `\`bun --cpu-prof-md bench/profile-write.ts ${p.writes}\`: createRecord through the whole HTTP stack in one process (no socket), ` +
      `SQLite + disk, from source, 16 at a time: ${p.perSecond} writes/s, **${fmt(p.cpuMsPerWrite)} ms CPU per write**, ` +
      `**${fmt(p.queriesPerWrite)} queries per write**${p.byKind ? ` (${Object.entries(p.byKind).map(([k, n]) => `${k} ${fmt(n)}`).join(", ")})` : ""} ` +
      `(profiler on; ${fmt(p.profiledMs / 1000)} s sampled). Top functions by self time:`,
    "",
    row(["Self %", "Self (ms)", "Total %", "Function", "Location"]),
    row(["---:", "---:", "---:", "---", "---"]),
    ...p.top.map((f) => row([fmt(f.selfPercent), fmt(f.selfMs), fmt(f.totalPercent), `\`${f.name.replaceAll("|", "\\|")}\``, f.location.replaceAll("|", "\\|")])),
  ];
}

/** Client and server CPU per workload: the client must stay well below a core for the figures to be the server's. */
function loadTable(targets: TargetResult[], cores: number): string[] {
  const header = ["Workload", ...targets.flatMap((t) => [`${t.name} client`, "server", "machine"])];
  const lines = [`CPU during each workload in cores (${cores} here): the load generator (wrk measured from its exited process; the firehose client is the writer plus the subscriber processes), the server process, and the whole machine (databases and anything else running included):`, "", row(header), row(header.map((_, i) => (i === 0 ? "---" : "---:")))];
  const workloads = ["createRecord", "applyWrites", "getRecord", "listRecords", "uploadBlob", "subscribeRepos"] as const;
  for (const w of workloads) {
    const cells: string[] = [w];
    for (const t of targets) {
      const r = t[w];
      const generator = r && "loadGenerator" in r ? ` (${r.loadGenerator})` : "";
      cells.push(`${fmt(r?.clientCpu)}${generator}`, fmt(r?.serverCpu), fmt(r?.machineCpu));
    }
    lines.push(row(cells));
  }
  return lines;
}

function settings(o: Record<string, unknown>): string[] {
  return [
    `Settings: ${o.accounts} accounts; createRecord concurrency ${o.writeConcurrency}; getRecord/listRecords concurrency ${o.readConcurrency}; ` +
      `applyWrites ${o.batchSize} creates per call, concurrency ${o.batchConcurrency}; ` +
      `uploadBlob concurrency ${o.blobConcurrency}; ${o.seconds} s per throughput workload; getRepo of ${o.repoRecords} records, ` +
      `median of ${o.exportRuns}; ${o.subscribers} firehose subscribers at ${o.firehoseRate} commits/s; cold start median of ${o.coldStarts}. ` +
      `RSS after load is read after the request workloads (applyWrites included); the peak under load also covers the getRepo export.`,
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
