import { resetPeakRss, totalMemory } from "../lib/proc";
import { type Account, ensureOk, postJson, xrpcUrl } from "../lib/xrpc";
import { nodePids, type Server } from "../targets/server";
import { COLLECTION, postRecord } from "./records";

/** The reference's applyWrites limit, so the same batches work on both. */
const BATCH = 200;
const EXPORT_TIMEOUT_MS = 120_000;

export interface SeedResult {
  records: number;
  seconds: number;
  via: "applyWrites" | "createRecord";
}

export interface ExportResult {
  records: number;
  /** Median over the runs, seconds. */
  seconds: number;
  allSeconds: number[];
  carBytes: number;
  /** Highest server RSS while exporting, MB (VmHWM after resetting it, or sampled VmRSS where that is not allowed). */
  peakRssMb: number;
  /** Server RSS before the export, MB. */
  rssBeforeMb: number;
}

/** Fill one repo with `count` posts: applyWrites batches of 200, or createRecord where applyWrites is not served. */
export async function seedRepo(server: Server, account: Account, count: number, deadlineMs: number): Promise<SeedResult> {
  const t0 = performance.now();
  const deadline = t0 + deadlineMs;
  let written = 0;
  let via: SeedResult["via"] = "applyWrites";
  while (written < count && performance.now() < deadline) {
    const n = Math.min(BATCH, count - written);
    if (via === "applyWrites") {
      const writes = Array.from({ length: n }, (_, i) => ({
        $type: "com.atproto.repo.applyWrites#create",
        collection: COLLECTION,
        value: postRecord(written + i),
      }));
      try {
        await postJson(server.url, "com.atproto.repo.applyWrites", { repo: account.did, writes }, account.authorization);
        written += n;
      } catch (err) {
        if (written > 0 || !/HTTP (404|501)/.test((err as Error).message)) throw err;
        via = "createRecord";
      }
      continue;
    }
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        postJson(server.url, "com.atproto.repo.createRecord", { repo: account.did, collection: COLLECTION, record: postRecord(written + i) }, account.authorization),
      ),
    );
    written += n;
  }
  if (written < count) throw new Error(`seeding stopped at ${written} of ${count} records: over ${deadlineMs / 1000} s`);
  return { records: written, seconds: (performance.now() - t0) / 1000, via };
}

/** sync.getRepo of the whole repo, read to the end, `runs` times; the server's peak RSS while it streams. */
export async function exportRepo(server: Server, account: Account, records: number, runs: number): Promise<ExportResult> {
  const url = xrpcUrl(server.url, "com.atproto.sync.getRepo", { did: account.did });
  // Every process of the server counts (aurora-pg-2: the export is served by the first, the other holds its memory).
  const pids = nodePids(server);
  const rssBeforeMb = totalMemory(pids).rssMb;
  const hwmAvailable = pids.map(resetPeakRss).every(Boolean);
  let sampledPeak = rssBeforeMb;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, totalMemory(pids).rssMb);
  }, 10);
  const allSeconds: number[] = [];
  let carBytes = 0;
  try {
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const res = await ensureOk(await fetch(url, { signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS) }), "getRepo");
      let bytes = 0;
      for await (const chunk of res.body!) bytes += chunk.byteLength;
      allSeconds.push((performance.now() - t0) / 1000);
      carBytes = bytes;
    }
  } finally {
    clearInterval(sampler);
  }
  const peak = hwmAvailable ? Math.max(totalMemory(pids).peakRssMb, sampledPeak) : sampledPeak;
  const sorted = [...allSeconds].sort((a, b) => a - b);
  return { records, seconds: sorted[Math.floor(sorted.length / 2)]!, allSeconds, carBytes, peakRssMb: peak, rssBeforeMb };
}
