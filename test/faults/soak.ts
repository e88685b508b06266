/**
 * The soak run (issue 20; not in CI): the fault suite's deployment (rig.ts:
 * three nodes behind nginx on their own PostgreSQL, Redis and s3rver) under
 * a bounded load for N minutes, no faults, sampling every 10 s each node's
 * resident memory and open file descriptors (/proc/<pid>/status, /proc/<pid>/fd)
 * and each firehose subscriber's lag (the newest seq in repo_seq minus the
 * last seq it received). Writes a small JSON report and fails when memory or
 * descriptors grew past their bound after the warm-up, or a subscriber fell
 * behind and stayed there.
 *
 *   npm run soak -- [--minutes 30] [--target cluster|node] [--report FILE]
 *                   [--max-rss-growth-mb 64] [--max-fd-growth 16] [--max-lag 200]
 *
 * `--target node` sends the load (and the firehose) straight to node 0, past
 * nginx. Heavy: run it under `flock /tmp/aurora-heavy.lock` on a shared machine.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import postgresjs from "postgres";
import { signUp } from "@test/cluster/helpers";
import { Load, type LoadAccount } from "./load";
import { type Rig, startRig } from "./rig";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    target: { type: "string", default: "cluster" },
    report: { type: "string", default: "test/faults/soak-report.json" },
    "interval-seconds": { type: "string", default: "10" },
    "max-rss-growth-mb": { type: "string", default: "64" },
    "max-fd-growth": { type: "string", default: "16" },
    "max-lag": { type: "string", default: "200" },
  },
});
const minutes = Number(args.minutes);
const intervalMs = Number(args["interval-seconds"]) * 1000;
const bounds = { rssGrowthMb: Number(args["max-rss-growth-mb"]), fdGrowth: Number(args["max-fd-growth"]), lag: Number(args["max-lag"]) };
if (!(minutes > 0) || !(intervalMs > 0) || !["cluster", "node"].includes(args.target!)) {
  console.error("usage: soak.ts [--minutes N] [--target cluster|node] [--report FILE] [--interval-seconds S]");
  process.exit(2);
}

/** One node at one moment. */
interface NodeSample {
  rssMb: number;
  fds: number;
}
interface Sample {
  /** Seconds since the load started. */
  t: number;
  nodes: (NodeSample | null)[];
  /** Per subscriber: seqs behind the newest in repo_seq. */
  lag: number[];
  /** Requests answered in the interval, and the non-200s among them. */
  requests: number;
  errors: number;
  acked: number;
}

function nodeSample(pid: number | undefined): NodeSample | null {
  if (pid === undefined) return null;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
    return { rssMb: Math.round(kb / 102.4) / 10, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : Number.NaN;
};

async function soak(rig: Rig): Promise<{ samples: Sample[]; verdicts: string[]; summary: Record<string, unknown> }> {
  const accounts: LoadAccount[] = await Promise.all(
    ["sa", "sb", "sc", "sd"].map(async (name) => {
      const a = await signUp(rig.cluster, name);
      return { did: a.did, token: a.agent.session!.accessJwt };
    }),
  );
  const sql = postgresjs(rig.cluster.databaseUrl, { max: 1, onnotice: () => {} });
  const newestSeq = async () => Number((await sql`select coalesce(max(seq), 0)::int as max from repo_seq`)[0]!.max);
  const target = args.target === "node" ? { url: rig.nodes[0]!.url, port: rig.nodes[0]!.port } : { url: rig.url, port: rig.cluster.port };
  const durationMs = minutes * 60_000;
  // Bounded: about 4 writes and 2 reads every 100 ms at most, and never more iterations than the time allows.
  const pauseMs = 100;
  const load = new Load({ ...target, accounts, cursor: await newestSeq(), pauseMs, maxIterations: Math.ceil(durationMs / pauseMs) + 1 });
  const started = Date.now();
  const samples: Sample[] = [];
  let seen = 0;
  let acked = 0;
  try {
    while (Date.now() - started < durationMs) {
      await Bun.sleep(Math.min(intervalMs, durationMs - (Date.now() - started)));
      const newest = await newestSeq().catch(() => Number.NaN);
      const fresh = load.samples.slice(seen);
      seen += fresh.length;
      const sample: Sample = {
        t: Math.round((Date.now() - started) / 1000),
        nodes: rig.nodes.map((n) => nodeSample(n.pid)),
        lag: load.subscribers.map((s) => newest - s.last),
        requests: fresh.length,
        errors: fresh.filter((s) => s.outcome !== 200).length,
        acked: load.ledger.length - acked,
      };
      acked = load.ledger.length;
      samples.push(sample);
      const nodes = sample.nodes.map((n, i) => (n ? `node${i} ${n.rssMb} MiB ${n.fds} fds` : `node${i} -`)).join(", ");
      console.log(`[soak] ${sample.t}s: ${nodes}; lag ${sample.lag.join("/")}; ${sample.requests} requests, ${sample.errors} errors`);
    }
  } finally {
    await load.stop();
    for (const s of load.subscribers) s.close();
    await sql.end();
  }

  // Baseline after the warm-up (a tenth of the run, at least a minute, at most five), against the last three samples.
  const warmup = Math.min(300, Math.max(60, (minutes * 60) / 10));
  const after = samples.filter((s) => s.t >= warmup);
  const base = after.slice(0, 3);
  const end = samples.slice(-3);
  const verdicts: string[] = [];
  const perNode = rig.nodes.map((_, i) => {
    const at = (set: Sample[], key: keyof NodeSample) => median(set.map((s) => s.nodes[i]?.[key] ?? Number.NaN));
    const row = {
      node: i,
      rssMb: { first: samples[0]?.nodes[i]?.rssMb ?? null, baseline: at(base, "rssMb"), end: at(end, "rssMb"), max: Math.max(...samples.map((s) => s.nodes[i]?.rssMb ?? 0)) },
      fds: { first: samples[0]?.nodes[i]?.fds ?? null, baseline: at(base, "fds"), end: at(end, "fds"), max: Math.max(...samples.map((s) => s.nodes[i]?.fds ?? 0)) },
    };
    if (!(row.rssMb.end - row.rssMb.baseline <= bounds.rssGrowthMb)) {
      verdicts.push(`node${i} memory grew ${row.rssMb.baseline} -> ${row.rssMb.end} MiB (bound +${bounds.rssGrowthMb})`);
    }
    if (!(row.fds.end - row.fds.baseline <= bounds.fdGrowth)) verdicts.push(`node${i} descriptors grew ${row.fds.baseline} -> ${row.fds.end} (bound +${bounds.fdGrowth})`);
    return row;
  });
  const lags = load.subscribers.map((_, j) => ({
    median: median(samples.map((s) => s.lag[j]!)),
    max: Math.max(...samples.map((s) => s.lag[j]!)),
    end: median(end.map((s) => s.lag[j]!)),
  }));
  lags.forEach((l, j) => {
    if (!(l.end <= bounds.lag)) verdicts.push(`subscriber ${j} ended ${l.end} events behind (bound ${bounds.lag})`);
  });
  if (samples.length < 2) verdicts.push("fewer than two samples: run longer");
  const statuses: Record<string, number> = {};
  for (const s of load.samples) if (s.outcome !== 200) statuses[String(s.outcome)] = (statuses[String(s.outcome)] ?? 0) + 1;
  const summary = {
    minutes,
    target: args.target,
    intervalSeconds: intervalMs / 1000,
    warmupSeconds: warmup,
    bounds,
    requests: load.samples.length,
    errorsByStatus: statuses,
    // What the first non-200 answers said, to tell a backend's hiccup from a bug.
    errorSamples: load.samples.filter((s) => s.outcome !== 200).slice(0, 10).map((s) => `${s.kind} ${s.outcome} at ${Math.round((s.startedAt - started) / 1000)}s: ${s.detail ?? ""}`.slice(0, 300)),
    acknowledgedWrites: load.ledger.length,
    firehose: {
      events: load.subscribers.reduce((n, s) => n + s.seqs.length, 0),
      reconnections: load.subscribers.reduce((n, s) => n + s.connections - 1, 0),
      lag: lags,
    },
    nodes: perNode,
    ok: verdicts.length === 0,
    verdicts,
    at: new Date().toISOString(),
  };
  return { samples, verdicts, summary };
}

const rig = await startRig();
let failed = true;
try {
  const { samples, verdicts, summary } = await soak(rig);
  writeFileSync(args.report!, `${JSON.stringify({ summary, samples }, null, 1)}\n`);
  console.log(JSON.stringify(summary, null, 2));
  console.log(verdicts.length ? `[soak] FAILED:\n  ${verdicts.join("\n  ")}` : `[soak] ok; report in ${args.report}`);
  failed = verdicts.length > 0;
} finally {
  await rig.stop();
}
process.exit(failed ? 1 : 0);
