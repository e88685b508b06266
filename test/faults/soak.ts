/**
 * The soak run (issue 20; not in CI): the fault suite's deployment (rig.ts:
 * three nodes behind nginx on their own PostgreSQL, Redis and s3rver) under
 * a bounded load for N minutes, no faults, sampling every 10 s each node's
 * resident memory and open file descriptors (/proc/<pid>/status, /proc/<pid>/fd),
 * its JS heap as its own /metrics reports it (prom-client's
 * nodejs_heap_size_used_bytes), and each firehose subscriber's lag (the newest
 * seq in repo_seq minus the last seq it received). With the probe (on unless
 * `--probe-seconds 0`), each node also loads bench/memory-probe.ts
 * (BUN_OPTIONS=--preload, which the compiled binary honours) and, every
 * `--probe-seconds`, is sent SIGUSR2: it runs a full GC and reports its live
 * heap (bun:jsc heapStats after the collection) and object counts by type —
 * live objects, not garbage the collector has not reached yet. Writes a small
 * JSON report and fails when RSS or the heap still grows over the second half of the run
 * (least-squares slope per 10 minutes past its bound: a heap that keeps
 * growing is a leak — judged on the live heap after a full GC when probed,
 * on the heap in use otherwise — RSS that grows over a flat heap is memory the allocator
 * or the collector keeps), descriptors grew after the warm-up, a subscriber
 * fell behind and stayed there, or any request got an answer other than 2xx
 * (a 503 while s3rver was down having exited by itself, as its restarter
 * records, is excused and counted apart, as in the fault suite).
 *
 * The load stays inside the server's per-account limits, so every request is
 * one the server should accept: one account per writer, each paced to spend
 * at most 90% of what its `repo-write` and `upload-blob` token buckets hold
 * plus refill over the run (rules.ts; the rig only raises the per-minute tiers).
 *
 *   npm run soak -- [--minutes 60] [--target cluster|node] [--report FILE] [--writers 20] [--readers 8]
 *                   [--max-rss-slope-mb 16] [--max-heap-slope-mb 8] [--max-fd-growth 16] [--max-lag 200]
 *                   [--probe-seconds 60]
 *
 * `--target node` sends the load (and the firehose) straight to node 0, past
 * nginx. Heavy: run it under `flock /tmp/aurora-heavy.lock` on a shared machine.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import postgresjs from "postgres";
import { signUp } from "@test/cluster/helpers";
import { DEFAULT_RULES, REPO_WRITE_POINTS } from "@/rate-limit/rules";
import { Load, type LoadAccount } from "./load";
import { type Rig, startRig } from "./rig";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "60" },
    target: { type: "string", default: "cluster" },
    report: { type: "string", default: "test/faults/soak-report.json" },
    "interval-seconds": { type: "string", default: "10" },
    writers: { type: "string", default: "20" },
    readers: { type: "string", default: "8" },
    "max-rss-slope-mb": { type: "string", default: "16" },
    "max-heap-slope-mb": { type: "string", default: "8" },
    "max-fd-growth": { type: "string", default: "16" },
    "max-lag": { type: "string", default: "200" },
    "probe-seconds": { type: "string", default: "60" },
  },
});
const minutes = Number(args.minutes);
const intervalMs = Number(args["interval-seconds"]) * 1000;
const writers = Number(args.writers);
const readers = Number(args.readers);
const probeMs = Number(args["probe-seconds"]) * 1000;
const bounds = { rssSlopeMbPer10Min: Number(args["max-rss-slope-mb"]), heapSlopeMbPer10Min: Number(args["max-heap-slope-mb"]), fdGrowth: Number(args["max-fd-growth"]), lag: Number(args["max-lag"]) };
if (!(minutes > 0) || !(intervalMs > 0) || !(writers >= 1) || !(readers >= 0) || !(probeMs >= 0) || !["cluster", "node"].includes(args.target!)) {
  console.error("usage: soak.ts [--minutes N] [--target cluster|node] [--report FILE] [--interval-seconds S] [--probe-seconds S]");
  process.exit(2);
}

/** One node at one moment. */
interface NodeSample {
  rssMb: number;
  fds: number;
  /** JS heap in use as /metrics reports it (NaN when the scrape failed). */
  heapMb: number;
  /** Live JS heap right after a full GC, from the probe (NaN when not probed at this sample). */
  liveMb: number;
}

/** One probe report: the live heap after a full GC and the object counts by type. */
interface Probe {
  liveMb: number;
  objects: number;
  top: [string, number][];
}

const PROBE_FILE = join(tmpdir(), `aurora-soak-probe-${process.pid}-{pid}.jsonl`);
const probeFile = (pid: number) => PROBE_FILE.replaceAll("{pid}", String(pid));

/** Ask the node for a full GC and its live heap (SIGUSR2 to the probe), and read its answer. */
async function probe(pid: number | undefined): Promise<Probe | null> {
  if (pid === undefined) return null;
  const file = probeFile(pid);
  // Complete lines only: the node may be appending its answer while this reads (a line is written with its newline).
  const lines = () => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(0, -1).filter(Boolean) : []);
  const before = lines().length;
  try {
    process.kill(pid, "SIGUSR2");
  } catch {
    return null;
  }
  for (let waited = 0; waited < 5000; waited += 100) {
    await Bun.sleep(100);
    const all = lines();
    if (all.length > before) {
      const { after } = JSON.parse(all.at(-1)!) as { after: { heapSizeMb: number; objects: number; top: [string, number][] } };
      return { liveMb: Math.round(after.heapSizeMb * 10) / 10, objects: after.objects, top: after.top };
    }
  }
  return null;
}
interface Sample {
  /** Seconds since the load started. */
  t: number;
  nodes: (NodeSample | null)[];
  /** Per subscriber: seqs behind the newest in repo_seq. */
  lag: number[];
  /** Requests answered in the interval, and the non-2xx (timeouts and network errors included) among them. */
  requests: number;
  errors: number;
  acked: number;
}

const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;

/** The node's JS heap in use, MiB, from its /metrics (prom-client's default metrics under our prefix). */
async function heapUsedMb(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    return mb(Number(/^\w*nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? Number.NaN));
  } catch {
    return Number.NaN;
  }
}

async function nodeSample(node: { pid: number | undefined; url: string }): Promise<NodeSample | null> {
  if (node.pid === undefined) return null;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${node.pid}/status`, "utf8"))?.[1] ?? Number.NaN);
    const fds = readdirSync(`/proc/${node.pid}/fd`).length;
    return { rssMb: Math.round(kb / 102.4) / 10, fds, heapMb: await heapUsedMb(node.url), liveMb: Number.NaN };
  } catch {
    return null;
  }
}

/** Least-squares slope of (t seconds, value) in units per 10 minutes; NaN with fewer than two finite points. */
function slopePer10Min(points: [number, number][]): number {
  const ps = points.filter(([, v]) => Number.isFinite(v));
  if (ps.length < 2) return Number.NaN;
  const mt = ps.reduce((a, [t]) => a + t, 0) / ps.length;
  const mv = ps.reduce((a, [, v]) => a + v, 0) / ps.length;
  const num = ps.reduce((a, [t, v]) => a + (t - mt) * (v - mv), 0);
  const den = ps.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  return den > 0 ? Math.round((num / den) * 600 * 10) / 10 : Number.NaN;
}

const is2xx = (outcome: number | string) => typeof outcome === "number" && outcome >= 200 && outcome < 300;

/**
 * Creates one writer may make over the run and stay inside its account's
 * limits: 90% of the smaller of what `repo-write` (3 points a create) and
 * `upload-blob` (one in every `uploadEvery` iterations) allow, each limit's
 * full bucket plus its refill over the run.
 */
function writesPerAccount(durationMs: number, uploadEvery: number): number {
  const allowed = (limit: { limit: number; windowMs: number }) => limit.limit + (limit.limit * durationMs) / limit.windowMs;
  const byWrites = Math.min(...DEFAULT_RULES["repo-write"]!.limits.map(allowed)) / REPO_WRITE_POINTS.create;
  const byUploads = Math.min(...DEFAULT_RULES["upload-blob"]!.limits.map(allowed)) * uploadEvery;
  return Math.floor(0.9 * Math.min(byWrites, byUploads));
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : Number.NaN;
};

async function soak(rig: Rig): Promise<{ samples: Sample[]; verdicts: string[]; summary: Record<string, unknown> }> {
  const accounts: LoadAccount[] = [];
  for (let i = 0; i < writers; i++) {
    const a = await signUp(rig.cluster, `soak${i}`);
    accounts.push({ did: a.did, token: a.agent.session!.accessJwt });
  }
  const sql = postgresjs(rig.cluster.databaseUrl, { max: 1, onnotice: () => {} });
  const newestSeq = async () => Number((await sql`select coalesce(max(seq), 0)::int as max from repo_seq`)[0]!.max);
  const target = args.target === "node" ? { url: rig.nodes[0]!.url, port: rig.nodes[0]!.port } : { url: rig.url, port: rig.cluster.port };
  const durationMs = minutes * 60_000;
  // Bounded: each writer (its own account) at most `perAccount` creates, paced over the run; readers pause twice as long.
  const uploadEvery = 4;
  const perAccount = writesPerAccount(durationMs, uploadEvery);
  const pauseMs = Math.ceil(durationMs / perAccount);
  const loadShape = { writers, readers, accounts: writers, uploadEvery, pauseMs, writesPerAccount: perAccount, maxWritesPerSecond: Math.round((writers * 1000 * 10) / pauseMs) / 10 };
  console.log(`[soak] load: ${JSON.stringify(loadShape)}`);
  const load = new Load({ ...target, accounts, writers, readers, uploadEvery, cursor: await newestSeq(), pauseMs, maxIterations: perAccount });
  const started = Date.now();
  const samples: Sample[] = [];
  /** Per node: the first probe of the second half of the run and the last one, for the object types that grew. */
  const probes: { firstOfSecondHalf?: Probe; last?: Probe }[] = rig.nodes.map(() => ({}));
  let lastProbe = Date.now();
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
        nodes: await Promise.all(rig.nodes.map((n) => nodeSample(n))),
        lag: load.subscribers.map((s) => newest - s.last),
        requests: fresh.length,
        errors: fresh.filter((s) => !is2xx(s.outcome)).length,
        acked: load.ledger.length - acked,
      };
      acked = load.ledger.length;
      if (probeMs > 0 && Date.now() - lastProbe >= probeMs) {
        lastProbe = Date.now();
        const found = await Promise.all(rig.nodes.map((n) => probe(n.pid)));
        found.forEach((p, i) => {
          if (!p) return;
          const node = sample.nodes[i];
          if (node) node.liveMb = p.liveMb;
          probes[i]!.last = p;
          if (sample.t >= (minutes * 60) / 2) probes[i]!.firstOfSecondHalf ??= p;
        });
      }
      samples.push(sample);
      const live = (n: NodeSample) => (Number.isNaN(n.liveMb) ? "" : `, live ${n.liveMb}`);
      const nodes = sample.nodes.map((n, i) => (n ? `node${i} ${n.rssMb} MiB (heap ${n.heapMb}${live(n)}) ${n.fds} fds` : `node${i} -`)).join(", ");
      console.log(`[soak] ${sample.t}s: ${nodes}; lag ${sample.lag.join("/")}; ${sample.requests} requests, ${sample.errors} errors`);
    }
  } finally {
    await load.stop();
    for (const s of load.subscribers) s.close();
    await sql.end();
  }

  // Descriptors: baseline after the warm-up (a tenth of the run, at least a minute, at most five) against the last three
  // samples. Memory: the trend over the second half of the run, when a lazily grown heap has had time to level off.
  const warmup = Math.min(300, Math.max(60, (minutes * 60) / 10));
  const after = samples.filter((s) => s.t >= warmup);
  const base = after.slice(0, 3);
  const end = samples.slice(-3);
  const secondHalf = samples.slice(Math.floor(samples.length / 2));
  const verdicts: string[] = [];
  const perNode = rig.nodes.map((_, i) => {
    const at = (set: Sample[], key: keyof NodeSample) => median(set.map((s) => s.nodes[i]?.[key] ?? Number.NaN));
    const figures = (key: keyof NodeSample) => ({
      first: samples[0]?.nodes[i]?.[key] ?? null,
      baseline: at(base, key),
      halfway: at(secondHalf.slice(0, 3), key),
      end: at(end, key),
      max: Math.max(...samples.map((s) => s.nodes[i]?.[key] ?? 0).filter(Number.isFinite)),
      slopePer10MinSecondHalf: slopePer10Min(secondHalf.map((s) => [s.t, s.nodes[i]?.[key] ?? Number.NaN])),
    });
    // The live heap after a full GC exists only at probed samples: its figures are over those.
    const probed = (set: Sample[]) => set.filter((s) => Number.isFinite(s.nodes[i]?.liveMb));
    const liveOf = (s: Sample | undefined) => s?.nodes[i]?.liveMb ?? null;
    const live = {
      first: liveOf(probed(samples)[0]),
      halfway: liveOf(probed(secondHalf)[0]),
      end: liveOf(probed(samples).at(-1)),
      max: Math.max(...probed(samples).map((s) => s.nodes[i]!.liveMb)),
      slopePer10MinSecondHalf: slopePer10Min(probed(secondHalf).map((s) => [s.t, s.nodes[i]!.liveMb])),
      probesInSecondHalf: probed(secondHalf).length,
    };
    // Object types by how much their count grew over the second half (the probe reports the twelve commonest).
    const { firstOfSecondHalf: from, last: to } = probes[i]!;
    const grownTypes = from && to ? to.top.map(([type, n]) => [type, n - (from.top.find(([t]) => t === type)?.[1] ?? 0)] as const).filter(([, d]) => d > 0) : [];
    const row = { node: i, rssMb: figures("rssMb"), heapMb: figures("heapMb"), liveHeapMb: live, grownTypes, fds: figures("fds") };
    // Judged on the live heap when there are enough probes, else on the heap in use (which includes uncollected garbage).
    const judged = live.probesInSecondHalf >= 3 ? { name: "live heap after a full GC", ...live } : { name: "heap in use", ...row.heapMb };
    const heapGrows = !(judged.slopePer10MinSecondHalf <= bounds.heapSlopeMbPer10Min);
    if (heapGrows) {
      verdicts.push(
        `node${i} ${judged.name} still grows over the second half: ${judged.slopePer10MinSecondHalf} MiB per 10 min (bound ${bounds.heapSlopeMbPer10Min}), ${judged.halfway} -> ${judged.end} MiB: a leak`,
      );
    }
    if (!(row.rssMb.slopePer10MinSecondHalf <= bounds.rssSlopeMbPer10Min)) {
      verdicts.push(
        `node${i} RSS still grows over the second half: ${row.rssMb.slopePer10MinSecondHalf} MiB per 10 min (bound ${bounds.rssSlopeMbPer10Min}), ${row.rssMb.halfway} -> ${row.rssMb.end} MiB` +
          (heapGrows ? "" : " while the heap stays flat: memory the allocator or collector keeps, not live objects"),
      );
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
  if (secondHalf.length < 3) verdicts.push("fewer than three samples in the second half: run longer");
  const statuses: Record<string, number> = {};
  for (const s of load.samples) statuses[String(s.outcome)] = (statuses[String(s.outcome)] ?? 0) + 1;
  // s3rver sometimes exits by itself (startS3's respawn starts it again and records when it was down): a 503 that overlaps
  // such an outage, with the fault suite's 2 s of slack either side, is the test blob store being away.
  const s3Outages = rig.s3.outages;
  const duringS3Outage = (s: (typeof load.samples)[number]) =>
    s.outcome === 503 && s3Outages.some((o) => s.startedAt + s.ms >= o.from - 2000 && s.startedAt <= o.to + 2000);
  const refused = load.samples.filter((s) => !is2xx(s.outcome));
  const unexcused = refused.filter((s) => !duringS3Outage(s));
  if (unexcused.length > 0) {
    const by: Record<string, number> = {};
    for (const s of unexcused) by[String(s.outcome)] = (by[String(s.outcome)] ?? 0) + 1;
    verdicts.push(`${unexcused.length} of ${load.samples.length} requests not answered 2xx (outside s3rver's own exits): ${Object.entries(by).map(([k, n]) => `${n} ${k}`).join(", ")}`);
  }
  const summary = {
    minutes,
    target: args.target,
    intervalSeconds: intervalMs / 1000,
    warmupSeconds: warmup,
    bounds,
    load: loadShape,
    requests: load.samples.length,
    requestsByKind: Object.fromEntries(["write", "upload", "read"].map((k) => [k, load.samples.filter((s) => s.kind === k).length])),
    requestsByStatus: statuses,
    s3rver: {
      unexpectedExits: rig.s3.unaskedExits,
      outages: s3Outages.map((o) => ({ from: Math.round((o.from - started) / 1000), to: Math.round((o.to - started) / 1000) })),
      excused503: refused.length - unexcused.length,
    },
    // What the first non-2xx answers said, to tell a backend's hiccup from a bug.
    errorSamples: [...unexcused.slice(0, 10), ...refused.filter(duringS3Outage).slice(0, 3)].map((s) => `${s.kind} ${s.outcome} at ${Math.round((s.startedAt - started) / 1000)}s: ${s.detail ?? ""}`.slice(0, 300)),
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

// The probe rides on every node through BUN_OPTIONS (the compiled binary honours it); its reports go to one file per node.
const rig = await startRig(
  probeMs > 0 ? { BUN_OPTIONS: `--preload ${join(import.meta.dir, "../../bench/memory-probe.ts")}`, AURORA_MEMORY_PROBE: PROBE_FILE } : {},
);
let failed = true;
try {
  const { samples, verdicts, summary } = await soak(rig);
  writeFileSync(args.report!, `${JSON.stringify({ summary, samples }, null, 1)}\n`);
  console.log(JSON.stringify(summary, null, 2));
  console.log(verdicts.length ? `[soak] FAILED:\n  ${verdicts.join("\n  ")}` : `[soak] ok; report in ${args.report}`);
  failed = verdicts.length > 0;
} finally {
  await rig.stop();
  for (const node of rig.nodes) if (node.pid !== undefined) rmSync(probeFile(node.pid), { force: true });
}
process.exit(failed ? 1 : 0);
