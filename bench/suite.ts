import { totalMemory } from "./lib/proc";
import { type Account, createAccounts } from "./lib/xrpc";
import type { BenchOptions, WorkloadName } from "./options";
import { nodePids, type Server, type Target } from "./targets/server";
import { applyWrites, type BatchResult } from "./workloads/apply-writes";
import { type BlobResult, uploadBlobs } from "./workloads/blobs";
import type { Measured } from "./workloads/measure";
import { createRecords, getRecords, listRecords, type ReadClient, type ReadMeasured, type RecordRef } from "./workloads/records";
import { type ExportResult, exportRepo, type SeedResult, seedRepo } from "./workloads/repo-export";
import { type FanOutResult, fanOut } from "./workloads/subscribe-repos";

export interface TargetResult {
  name: string;
  description: string;
  version: string;
  /** Where uploadBlob stored blobs. */
  blobstore: string;
  /** Every launch to the first healthy response, ms; the first includes creating the database. */
  coldStartMs: number[];
  /** After start-up and a short settle, before any request, MB. */
  rssIdleMb: number;
  createRecord?: Measured;
  applyWrites?: BatchResult;
  getRecord?: ReadMeasured;
  listRecords?: ReadMeasured;
  uploadBlob?: BlobResult;
  subscribeRepos?: FanOutResult;
  /** After the request workloads above, MB. */
  rssAfterLoadMb: number;
  /** Highest RSS during those workloads (VmHWM) and the getRepo export after them, MB. */
  peakRssLoadMb: number;
  seedRepo?: SeedResult;
  getRepo?: ExportResult;
  /** Workloads that could not run, with the reason (an endpoint missing, a server error). */
  failures: Partial<Record<WorkloadName | "accounts", string>>;
}

const SETTLE_MS = 2000;
/** Records written untimed when read workloads run without createRecord. */
const READ_SEED = 500;
const SEED_DEADLINE_MS = 180_000;

/** Run the selected workloads against one target, in a fixed order, each bounded in time. */
export async function runSuite(target: Target, opts: BenchOptions, readClient: ReadClient, log: (line: string) => void): Promise<TargetResult> {
  const coldStartMs: number[] = [];
  let server: Server | undefined;
  for (let i = 0; i < opts.coldStarts; i++) {
    await server?.stop();
    server = await target.start();
    coldStartMs.push(server.coldStartMs);
  }
  if (!server) throw new Error("coldStarts must be at least 1");
  const running = server;
  log(`  cold start ${coldStartMs.map((ms) => ms.toFixed(0)).join(", ")} ms`);
  try {
    await Bun.sleep(SETTLE_MS);
    const result: TargetResult = {
      name: target.name,
      description: target.description,
      version: target.version,
      blobstore: target.blobstore,
      coldStartMs,
      rssIdleMb: totalMemory(nodePids(running)).rssMb,
      rssAfterLoadMb: NaN,
      peakRssLoadMb: NaN,
      failures: {},
    };
    const want = (w: WorkloadName) => opts.workloads.has(w);
    const attempt = async <T>(name: WorkloadName | "accounts", run: () => Promise<T>): Promise<T | undefined> => {
      try {
        const value = await run();
        log(`  ${name} ${summary(value)}`);
        return value;
      } catch (err) {
        result.failures[name] = (err as Error).message;
        log(`  ${name} FAILED: ${(err as Error).message.split("\n")[0]}`);
        return undefined;
      }
    };

    const accounts = await attempt("accounts", () => createAccounts(running.url, "user", opts.accounts));
    const limits = (concurrency: number, maxRequests: number) => ({ concurrency, maxRequests, maxMs: opts.seconds * 1000 });
    let refs: RecordRef[] = [];
    if (accounts) {
      if (want("createRecord")) {
        const created = await attempt("createRecord", () => createRecords(running, accounts, limits(opts.writeConcurrency, 5000 * opts.seconds)));
        result.createRecord = created?.result;
        refs = created?.refs ?? [];
      } else if (want("getRecord")) {
        refs = (await attempt("createRecord", () => createRecords(running, accounts, limits(opts.writeConcurrency, READ_SEED))))?.refs ?? [];
      }
      if (want("applyWrites")) {
        result.applyWrites = await attempt("applyWrites", () => applyWrites(running, accounts, opts.batchSize, limits(opts.batchConcurrency, 25 * opts.seconds)));
      }
      if (want("getRecord")) result.getRecord = await attempt("getRecord", () => getRecords(running, refs, limits(opts.readConcurrency, 20_000 * opts.seconds), readClient));
      if (want("listRecords")) result.listRecords = await attempt("listRecords", () => listRecords(running, accounts, limits(opts.readConcurrency, 10_000 * opts.seconds), readClient));
      if (want("uploadBlob")) {
        result.uploadBlob = await attempt("uploadBlob", () => uploadBlobs(running, accounts, limits(opts.blobConcurrency, 200 * opts.seconds), target.blobstore));
      }
      if (want("subscribeRepos")) {
        result.subscribeRepos = await attempt("subscribeRepos", () =>
          fanOut(running, accounts, { subscribers: opts.subscribers, writesPerSecond: opts.firehoseRate, maxMs: opts.seconds * 1000, maxInFlight: opts.writeConcurrency }),
        );
      }
    }
    const afterLoad = totalMemory(nodePids(running));
    result.rssAfterLoadMb = afterLoad.rssMb;
    result.peakRssLoadMb = afterLoad.peakRssMb;

    if (want("getRepo")) {
      const owner = await attempt("accounts", () => createAccounts(running.url, "export", 1));
      if (owner?.[0]) await exportWorkload(running, owner[0], opts, result, attempt);
      // The export resets VmHWM to measure itself: the peak under load is the higher of the two.
      if (result.getRepo) result.peakRssLoadMb = Math.max(result.peakRssLoadMb, result.getRepo.peakRssMb);
    }
    return result;
  } finally {
    await running.stop();
  }
}

async function exportWorkload(
  server: Server,
  owner: Account,
  opts: BenchOptions,
  result: TargetResult,
  attempt: <T>(name: WorkloadName, run: () => Promise<T>) => Promise<T | undefined>,
): Promise<void> {
  const seeded = await attempt("getRepo", () => seedRepo(server, owner, opts.repoRecords, SEED_DEADLINE_MS));
  if (!seeded) return;
  result.seedRepo = seeded;
  result.getRepo = await attempt("getRepo", () => exportRepo(server, owner, seeded.records, opts.exportRuns));
}

/** One log line per workload, so a long run shows progress. */
function summary(value: unknown): string {
  if (Array.isArray(value)) return `${value.length} created`;
  const v = value as Record<string, unknown> & { result?: Record<string, unknown> };
  const r = (v.result ?? v) as Record<string, number | Record<string, number>>;
  const parts: string[] = [];
  if (typeof r.perSecond === "number") parts.push(`${r.perSecond.toFixed(r.perSecond < 10 ? 1 : 0)}/s`);
  if (typeof r.writesPerSecond === "number") parts.push(`${r.writesPerSecond.toFixed(0)} writes/s`);
  if (typeof r.latencyMs === "object") parts.push(`p50 ${r.latencyMs.p50!.toFixed(1)} ms p99 ${r.latencyMs.p99!.toFixed(1)} ms`);
  if (typeof r.mbPerSecond === "number") parts.push(`${r.mbPerSecond.toFixed(1)} MB/s to ${String(r.backend)}`);
  if (typeof r.loadGenerator === "string") parts.push(`via ${r.loadGenerator}`);
  if (typeof r.endToEndMs === "object") parts.push(`e2e p50 ${r.endToEndMs.p50!.toFixed(1)} ms p99 ${r.endToEndMs.p99!.toFixed(1)} ms, ${r.delivered}/${r.expected} delivered ${JSON.stringify(r.frameTypes)}`);
  if (typeof r.peakRssMb === "number") parts.push(`${(r.seconds as number).toFixed(2)} s, ${r.carBytes} bytes, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
  else if (typeof r.via === "string") parts.push(`${r.records} records via ${r.via} in ${(r.seconds as number).toFixed(1)} s`);
  if (typeof r.errors === "number" && r.errors > 0) parts.push(`${r.errors} errors (${String(r.firstError)})`);
  if (typeof r.clientCpu === "number") parts.push(`client CPU ${(r.clientCpu * 100).toFixed(0)}%`);
  if (typeof r.serverCpu === "number") parts.push(`server CPU ${(r.serverCpu * 100).toFixed(0)}%`);
  if (typeof r.serverCpuMsPerRequest === "number") parts.push(`${r.serverCpuMsPerRequest.toFixed(2)} ms/req`);
  if (typeof r.machineCpu === "number") parts.push(`machine CPU ${(r.machineCpu * 100).toFixed(0)}%`);
  return parts.join(", ");
}
