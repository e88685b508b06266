/**
 * `npm run bench`: the reference PDS and Aurora side by side on this machine,
 * same client, same workloads, one server at a time. See bench/README.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopAllOnSignal, track } from "./lib/cleanup";
import { startPlc } from "./plc";
import { machine } from "./lib/proc";
import { type BenchOptions, parseOptions, type TargetName, USAGE } from "./options";
import { installReference, type ReferenceInstall } from "./reference/install";
import { renderChart } from "./report/chart";
import { renderTable } from "./report/table";
import { METRICS } from "./report/metrics";
import { type Baseline, type BenchResults, runStamp } from "./report/results";
import { runSuite } from "./suite";
import { auroraFromSource, auroraTarget, auroraVersion, buildAurora } from "./targets/aurora";
import { referenceTarget } from "./targets/reference";
import type { Target } from "./targets/server";
import { wrkAvailable } from "./lib/wrk";
import type { ReadClient } from "./workloads/records";
import { profileWrites } from "./workloads/write-profile";

const log = (line: string) => console.error(line);

/**
 * Every step is bounded on its own; this is the backstop, generous enough
 * for a first run that also installs the reference (about 2 minutes).
 */
const WATCHDOG_MS = 14 * 60_000;

async function main(argv: string[]): Promise<number> {
  let opts: BenchOptions | "help";
  try {
    opts = parseOptions(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }
  stopAllOnSignal();
  setTimeout(() => {
    log(`[bench] over ${WATCHDOG_MS / 60_000} minutes: giving up`);
    process.kill(process.pid, "SIGTERM");
  }, WATCHDOG_MS).unref();
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), "aurora-bench-"));
  const removeWork = async () => rmSync(work, { recursive: true, force: true });
  const untrackWork = track(removeWork);
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: machine(),
    versions: { aurora: auroraVersion(), bun: Bun.version },
    options: { ...opts, workloads: [...opts.workloads] },
    targets: [],
    failures: {},
  };
  const baseline = loadBaseline(opts.baseline);
  if (baseline) results.baseline = baseline;
  log(`[bench] ${results.machine.cores} cores, ${results.machine.model}; work dir ${work}`);
  const plc = await startPlc();
  try {
    let install: ReferenceInstall | undefined;
    if (opts.targets.includes("reference")) {
      install = await installReference(log);
      results.versions.reference = install.pdsVersion;
      results.versions.referenceNode = install.nodeVersion;
    }
    const readClient = await chooseReadClient(opts, work);
    results.readClient = readClient.kind;
    const hasAurora = opts.targets.some((t) => t.startsWith("aurora"));
    const command = hasAurora ? (opts.aurora === "binary" ? await buildAurora(join(work, "bin")) : auroraFromSource()) : [];
    for (const name of opts.targets) {
      log(`[bench] ${name}`);
      let target: Target | undefined;
      try {
        target = await makeTarget(name, install, command, plc.url, join(work, name));
        log(`  ${target.description}`);
        results.targets.push(await runSuite(target, opts, readClient, log));
      } catch (err) {
        results.failures[name] = (err as Error).message;
        log(`  ${name} FAILED: ${(err as Error).message}`);
      } finally {
        await target?.cleanup();
      }
    }
    if (opts.profileWrites > 0) {
      log(`[bench] write path profile: bench/profile-write.ts ${opts.profileWrites} under bun --cpu-prof-md`);
      try {
        results.writeProfile = await profileWrites(opts.profileWrites, join(work, "profile"));
        const p = results.writeProfile;
        log(`  ${p.perSecond} writes/s, ${p.cpuMsPerWrite} ms CPU/write, ${p.queriesPerWrite} queries/write; top: ${p.top.slice(0, 3).map((f) => f.name).join(", ")}`);
      } catch (err) {
        results.failures.profile = (err as Error).message;
        log(`  profile FAILED: ${(err as Error).message.split("\n")[0]}`);
      }
    }
  } finally {
    await plc.stop();
    untrackWork();
    await removeWork();
  }
  results.seconds = (performance.now() - started) / 1000;

  mkdirSync(opts.out, { recursive: true });
  const stamp = runStamp(results.date);
  const table = renderTable(results);
  writeFileSync(join(opts.out, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(opts.out, `${stamp}.md`), table);
  writeFileSync(join(opts.out, `${stamp}.png`), renderChart(results));
  console.log(table);
  log(`[bench] done in ${results.seconds.toFixed(0)} s: ${join(opts.out, stamp)}.{json,md,png}`);
  return Object.keys(results.failures).length > 0 ? 1 : 0;
}

/** wrk when asked for and installable, else the Bun client (and the report says which). */
async function chooseReadClient(opts: BenchOptions, work: string): Promise<ReadClient> {
  if (opts.readClient === "wrk") {
    // One thread is far beyond these servers' rates; a second competed with the server for two cores (p99 ×8 in a paired run).
    if (await wrkAvailable(log)) return { kind: "wrk", dir: work, threads: 1 };
    log("[bench] wrk not available: getRecord/listRecords use the Bun client");
  }
  return { kind: "bun" };
}

/** The figures of an earlier run that "no worse than before" targets compare with, by target and metric label. */
function loadBaseline(file: string): Baseline | undefined {
  if (!existsSync(file)) {
    log(`[bench] no baseline at ${file}: "previous run" targets get no figure`);
    return undefined;
  }
  const earlier = JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  const values: Baseline["values"] = {};
  for (const t of earlier.targets) {
    values[t.name] = {};
    for (const metric of METRICS) {
      if (!metric.goals?.some((g) => g.against === "previous")) continue;
      const v = metric.value(t);
      if (v !== undefined && Number.isFinite(v)) values[t.name]![metric.label] = v;
    }
  }
  return { file: file.replace(`${join(import.meta.dir, "..")}/`, ""), date: earlier.date, values };
}

function makeTarget(name: TargetName, install: ReferenceInstall | undefined, command: string[], plcUrl: string, dir: string): Promise<Target> | Target {
  mkdirSync(dir, { recursive: true });
  if (name === "reference") return referenceTarget(install!, plcUrl, dir);
  if (name === "aurora-pg-2") return auroraTarget("pg", command, plcUrl, dir, 2);
  if (name === "aurora-pg-socket") return auroraTarget("pg-socket", command, plcUrl, dir);
  return auroraTarget(name === "aurora-pg" ? "pg" : "sqlite", command, plcUrl, dir);
}

process.exit(await main(process.argv.slice(2)));
