import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const TARGETS = ["reference", "aurora-sqlite", "aurora-pg"] as const;
export type TargetName = (typeof TARGETS)[number];

export const WORKLOADS = ["createRecord", "getRecord", "listRecords", "uploadBlob", "subscribeRepos", "getRepo"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

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
  /** Records in the repo getRepo exports. @default 10000 (1000 with --quick) */
  repoRecords: number;
  /** @default 3 (1 with --quick) */
  exportRuns: number;
  /** Firehose subscribers. @default 50 (5 with --quick) */
  subscribers: number;
  /** Paced commits per second during the fan-out run, below the reference's write capacity. @default 40 */
  firehoseRate: number;
  /** Launches per target timed to the first healthy response; the last stays up for the workloads. @default 3 (1 with --quick) */
  coldStarts: number;
  /** Compiled binary (what operators run) or `bun src/main.ts`. @default "binary" */
  aurora: "binary" | "source";
  /** Where <date>.json/.md/.png go. @default bench/results */
  out: string;
}

export const USAGE = `npm run bench [-- options]   (bun bench/run.ts [options])

Runs the same workloads against the reference PDS and Aurora (SQLite + disk,
then PostgreSQL + Redis + s3rver), one after the other, and writes
<out>/<date>.json, .md and .png.

  --target LIST      ${TARGETS.join(",")} (default: all)
  --workload LIST    ${WORKLOADS.join(",")} (default: all;
                     cold start and RSS are always measured)
  --quick            a few seconds per workload, small repo, few subscribers
  --seconds N        seconds per throughput workload (default 10)
  --repo-records N   records in the exported repo (default 10000)
  --subscribers N    firehose subscribers (default 50)
  --aurora MODE      binary (default) or source
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
  return {
    targets: list(values.target, TARGETS, "--target"),
    workloads: new Set(list(values.workload, WORKLOADS, "--workload")),
    seconds: positive(values.seconds, "--seconds") ?? (quick ? 2 : 10),
    accounts: 10,
    writeConcurrency: 16,
    readConcurrency: 32,
    blobConcurrency: 4,
    repoRecords: positive(values["repo-records"], "--repo-records") ?? (quick ? 1000 : 10_000),
    exportRuns: quick ? 1 : 3,
    subscribers: positive(values.subscribers, "--subscribers") ?? (quick ? 5 : 50),
    firehoseRate: 40,
    coldStarts: quick ? 1 : 3,
    aurora,
    out: resolve(values.out ?? join(import.meta.dir, "results")),
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
