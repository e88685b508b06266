import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const TARGETS = ["reference", "aurora-sqlite", "aurora-pg", "aurora-pg-socket", "aurora-pg-2"] as const;
/** Targets run unless --target names them: aurora-pg-socket (PostgreSQL over its Unix socket) and aurora-pg-2 (two Aurora processes) are asked for. */
const DEFAULT_TARGETS: TargetName[] = ["reference", "aurora-sqlite", "aurora-pg"];
export type TargetName = (typeof TARGETS)[number];

export const WORKLOADS = ["createRecord", "applyWrites", "getRecord", "listRecords", "uploadBlob", "subscribeRepos", "getRepo"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** The run issue 19's "p99 no worse than before" compares with. */
const BASELINE = "2026-12-01.json";

export interface BenchOptions {
  targets: TargetName[];
  workloads: Set<WorkloadName>;
  /** Seconds each throughput workload runs (it also stops at its request cap). @default 10 (2 with --quick) */
  seconds: number;
  /** Accounts createRecord spreads over. @default 10 */
  accounts: number;
  /** @default 16 */
  writeConcurrency: number;
  /** @default 32 */
  readConcurrency: number;
  /** @default 4 */
  blobConcurrency: number;
  /** applyWrites calls in flight (each carries `batchSize` creates). @default 4 */
  batchConcurrency: number;
  /** Creates per applyWrites call: the reference's limit. @default 200 */
  batchSize: number;
  /** Who drives getRecord/listRecords: wrk (installed with apt-get when missing) or the Bun client. @default "wrk" */
  readClient: "wrk" | "bun";
  /** Records in the repo getRepo exports. @default 10000 (1000 with --quick) */
  repoRecords: number;
  /** @default 3 (1 with --quick) */
  exportRuns: number;
  /** Firehose subscribers. @default 500 (50 with --quick) */
  subscribers: number;
  /** Paced commits per second during the fan-out run, below the reference's write capacity. @default 20 (frames/s = rate × subscribers) */
  firehoseRate: number;
  /** createRecord calls bench/profile-write.ts makes under Bun's profiler; 0 = no profile. @default 3000 (500 with --quick) */
  profileWrites: number;
  /** Launches per target timed to the first healthy response; the last stays up for the workloads. @default 3 (1 with --quick) */
  coldStarts: number;
  /** Compiled binary (what operators run) or `bun src/main.ts`. @default "binary" */
  aurora: "binary" | "source";
  /** Where <date>.json/.md/.png go. @default bench/results */
  out: string;
  /** An earlier run's <date>.json, for the "no worse than before" targets. @default bench/results/2026-12-01.json */
  baseline: string;
}

export const USAGE = `npm run bench [-- options]   (bun bench/run.ts [options])

Runs the same workloads against the reference PDS and Aurora (SQLite + disk,
then PostgreSQL + Redis + s3rver), one after the other, and writes
<out>/<date>.json, .md and .png.

  --target LIST      ${TARGETS.join(",")} (default: all but aurora-pg-socket,
                     PostgreSQL over its Unix socket instead of TCP, and aurora-pg-2,
                     two Aurora processes on the same PostgreSQL, writes round-robin)
  --workload LIST    ${WORKLOADS.join(",")} (default: all;
                     cold start and RSS are always measured)
  --quick            a few seconds per workload, small repo, 50 subscribers
  --seconds N        seconds per throughput workload (default 10)
  --repo-records N   records in the exported repo (default 10000)
  --subscribers N    firehose subscribers (default 500)
  --firehose-rate N  commits per second during the fan-out (default 20)
  --read-client C    wrk (default) or bun: the load generator for getRecord/listRecords
  --profile N        createRecord calls profiled with bun --cpu-prof-md (default 3000; 0 = none)
  --aurora MODE      binary (default) or source
  --baseline FILE    earlier results .json for the p99 target (default bench/results/${BASELINE})
  --out DIR          output directory (default bench/results)
`;

export function parseOptions(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: "string" },
      workload: { type: "string" },
      quick: { type: "boolean" },
      seconds: { type: "string" },
      "repo-records": { type: "string" },
      subscribers: { type: "string" },
      "firehose-rate": { type: "string" },
      "read-client": { type: "string" },
      profile: { type: "string" },
      baseline: { type: "string" },
      aurora: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const quick = values.quick === true;
  const aurora = values.aurora ?? "binary";
  if (aurora !== "binary" && aurora !== "source") throw new Error(`--aurora: expected binary or source, got ${aurora}`);
  const readClient = values["read-client"] ?? "wrk";
  if (readClient !== "wrk" && readClient !== "bun") throw new Error(`--read-client: expected wrk or bun, got ${readClient}`);
  const profile = values.profile === "0" ? 0 : positive(values.profile, "--profile");
  return {
    targets: values.target === undefined ? [...DEFAULT_TARGETS] : list(values.target, TARGETS, "--target"),
    workloads: new Set(list(values.workload, WORKLOADS, "--workload")),
    seconds: positive(values.seconds, "--seconds") ?? (quick ? 2 : 10),
    accounts: 10,
    writeConcurrency: 16,
    readConcurrency: 32,
    blobConcurrency: 4,
    batchConcurrency: 4,
    batchSize: 200,
    readClient,
    repoRecords: positive(values["repo-records"], "--repo-records") ?? (quick ? 1000 : 10_000),
    exportRuns: quick ? 1 : 3,
    subscribers: positive(values.subscribers, "--subscribers") ?? (quick ? 50 : 500),
    firehoseRate: positive(values["firehose-rate"], "--firehose-rate") ?? 20,
    profileWrites: profile ?? (quick ? 500 : 3000),
    coldStarts: quick ? 1 : 3,
    aurora,
    out: resolve(values.out ?? join(import.meta.dir, "results")),
    baseline: resolve(values.baseline ?? join(import.meta.dir, "results", BASELINE)),
  };
}

function list<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] {
  if (value === undefined) return [...allowed];
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`${flag}: unknown ${item} (one of ${allowed.join(", ")})`);
  }
  return items as T[];
}

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number, got ${value}`);
  return n;
}
