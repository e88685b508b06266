/**
 * `bun bench/memory.ts`: where Aurora's memory goes under the bench's load.
 * Starts Aurora on SQLite + disk exactly as `npm run bench` does (the same
 * PDS_* settings, a shared PLC process), then runs createRecord (concurrency
 * 16), getRecord, listRecords, applyWrites batches of 200 into one repo and
 * getRepo of that repo, sampling the server's VmRSS every 10 ms and reading
 * VmHWM (reset before each phase), plus the JS heap as the server's own
 * /metrics reports it (process.memoryUsage through prom-client), at each
 * phase boundary. Extra server environment (allocator or JSC settings to
 * try) comes from `--env K=V`, repeatable. Every phase is bounded in count
 * and time. Run it under the heavy lock: `flock /tmp/aurora-heavy.lock bun bench/memory.ts`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stopAllOnSignal, track } from "./lib/cleanup";
import { memory, resetPeakRss } from "./lib/proc";
import { runLoad } from "./lib/load";
import { createAccounts, ensureOk, REQUEST_TIMEOUT_MS, xrpcUrl } from "./lib/xrpc";
import { startPlc } from "./plc";
import { auroraFromSource, auroraTarget, buildAurora } from "./targets/aurora";
import type { Server } from "./targets/server";
import { COLLECTION, createRecords } from "./workloads/records";
import { exportRepo, seedRepo } from "./workloads/repo-export";

const USAGE = `bun bench/memory.ts [--aurora binary|source] [--binary PATH] [--records N] [--export-records N] [--seconds S] [--env K=V]...`;

interface Phase {
  phase: string;
  /** VmRSS at the end of the phase, MB. */
  rssMb: number;
  /** Highest VmRSS during the phase (VmHWM after a reset, or the 10 ms samples), MB. */
  peakMb: number;
  /** Anonymous (heap, allocator, SQLite cache) and file-backed (the binary's own pages) parts of VmRSS, MB. */
  anonMb: number;
  fileMb: number;
  /** JS heap as the server reports it, MB: used, total, and external (ArrayBuffers and other memory the heap points at). */
  heapUsedMb?: number;
  heapTotalMb?: number;
  externalMb?: number;
  seconds: number;
  /** Requests per second, for the load phases: what a memory setting costs in throughput. */
  perSecond?: number;
}

const MB = 1024 * 1024;

/** RssAnon and RssFile (+ RssShmem) from /proc/<pid>/status, MB. */
function rssParts(pid: number): Pick<Phase, "anonMb" | "fileMb"> {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { anonMb: kb("RssAnon") / 1024, fileMb: (kb("RssFile") + kb("RssShmem")) / 1024 };
}

/** The server's process.memoryUsage() figures, from its Prometheus text. */
async function heap(server: Server): Promise<Pick<Phase, "heapUsedMb" | "heapTotalMb" | "externalMb">> {
  const text = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5000) })
    .then((r) => (r.ok ? r.text() : ""))
    .catch(() => "");
  const value = (name: string) => {
    const m = new RegExp(`^aurora_process_${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) / MB : undefined;
  };
  return { heapUsedMb: value("nodejs_heap_size_used_bytes"), heapTotalMb: value("nodejs_heap_size_total_bytes"), externalMb: value("nodejs_external_memory_bytes") };
}

/** The throughput of a load phase's result (a LoadResult, or one under `result`), else undefined. */
function perSecond(result: unknown): number | undefined {
  const r = result as { perSecond?: number; result?: { perSecond?: number } } | undefined;
  return r?.perSecond ?? r?.result?.perSecond;
}

/** Run one phase with VmHWM reset first and VmRSS sampled every 10 ms, then record where memory stands. */
async function phase(server: Server, name: string, phases: Phase[], run: () => Promise<unknown>): Promise<void> {
  const hwm = resetPeakRss(server.pid);
  let sampled = memory(server.pid).rssMb;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, memory(server.pid).rssMb);
  }, 10);
  const t0 = performance.now();
  let result: unknown;
  try {
    result = await run();
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - t0) / 1000;
  const now = memory(server.pid);
  const row: Phase = { phase: name, rssMb: now.rssMb, peakMb: hwm ? Math.max(now.peakRssMb, sampled) : sampled, ...rssParts(server.pid), ...(await heap(server)), seconds, perSecond: perSecond(result) };
  phases.push(row);
  await probeHeap(server, name);
  const f = (v: number | undefined) => (v === undefined ? "–" : v.toFixed(1));
  console.error(
    `${name.padEnd(22)} rss ${f(row.rssMb).padStart(6)}  peak ${f(row.peakMb).padStart(6)}  anon ${f(row.anonMb).padStart(6)}  file ${f(row.fileMb).padStart(5)}  heap ${f(row.heapUsedMb)}/${f(row.heapTotalMb)}  external ${f(row.externalMb)}  ${seconds.toFixed(1)} s${row.perSecond === undefined ? "" : `  ${row.perSecond.toFixed(0)}/s`}`,
  );
}

/** With --probe, the server's heap figures before and after a full GC, appended per phase. */
let probe: string | undefined;

async function probeHeap(server: Server, name: string): Promise<void> {
  if (!probe) return;
  const seen = existsSync(probe) ? readFileSync(probe, "utf8").split("\n").length : 0;
  process.kill(server.pid, "SIGUSR2");
  for (let i = 0; i < 50 && (existsSync(probe) ? readFileSync(probe, "utf8").split("\n").length : 0) <= seen; i++) await Bun.sleep(100);
  const lines = existsSync(probe) ? readFileSync(probe, "utf8").trim().split("\n") : [];
  const got = JSON.parse(lines[lines.length - 1] ?? "null") as { before: Record<string, unknown>; after: Record<string, unknown> } | null;
  if (!got) return;
  const f = (v: unknown) => (v as number).toFixed(1);
  for (const [when, s] of Object.entries(got)) {
    console.error(
      `  ${name} ${when} GC${s.gcMs === undefined ? "" : ` (${f(s.gcMs)} ms)`}: rss ${f(s.rssMb)} mimalloc ${f(s.mimallocCommitMb)} heapSize ${f(s.heapSizeMb)} capacity ${f(s.heapCapacityMb)} extra ${f(s.extraMemoryMb)} external ${f(s.externalMb)} arrayBuffers ${f(s.arrayBuffersMb)} objects ${s.objects} top ${JSON.stringify(s.top)}`,
    );
  }
  await Bun.sleep(1000);
  console.error(`  ${name} 1 s after GC: rss ${memory(server.pid).rssMb.toFixed(1)}`);
}

/** The largest mappings by resident size (anonymous ones by address), from /proc/<pid>/smaps. */
function smapsSummary(pid: number): string {
  const rows: { name: string; sizeKb: number; rssKb: number }[] = [];
  let current: { name: string; sizeKb: number; rssKb: number } | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = { name: `${head[3]} ${head[4] || `[anon ${head[1]}]`}`, sizeKb: 0, rssKb: 0 };
      rows.push(current);
      continue;
    }
    const field = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (field && current) current[field[1] === "Size" ? "sizeKb" : "rssKb"] = Number(field[2]);
  }
  return rows
    .sort((a, b) => b.rssKb - a.rssKb)
    .slice(0, 25)
    .map((r) => `  ${(r.rssKb / 1024).toFixed(1).padStart(7)} MB of ${(r.sizeKb / 1024).toFixed(0).padStart(6)} MB  ${r.name}`)
    .join("\n");
}

/** GETs over `urls` in turn, concurrency 32, each response read whole: the bench's read workloads with its Bun client. */
function reads(urls: string[], maxRequests: number, maxMs: number) {
  return runLoad({
    concurrency: 32,
    maxRequests,
    maxMs,
    async send(i) {
      const res = await fetch(urls[i % urls.length]!, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await (await ensureOk(res, "read")).arrayBuffer();
    },
  });
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      aurora: { type: "string", default: "binary" },
      binary: { type: "string" },
      records: { type: "string", default: "2000" },
      "export-records": { type: "string", default: "10000" },
      seconds: { type: "string", default: "8" },
      env: { type: "string", multiple: true, default: [] },
      probe: { type: "boolean" },
      smaps: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  stopAllOnSignal();
  const records = Number(values.records);
  const exportRecords = Number(values["export-records"]);
  const maxMs = Number(values.seconds) * 1000;
  const work = mkdtempSync(join(tmpdir(), "aurora-memory-"));
  const removeWork = async () => rmSync(work, { recursive: true, force: true });
  const untrackWork = track(removeWork);
  const plc = await startPlc();
  try {
    const probeFile = values.probe ? join(work, "probe.jsonl") : undefined;
    let base: string[];
    if (probeFile) {
      const [bun, ...rest] = auroraFromSource();
      base = [bun!, "--preload", join(import.meta.dir, "memory-probe.ts"), ...rest];
      values.env.push(`AURORA_MEMORY_PROBE=${probeFile}`);
    } else {
      base = values.binary ? [values.binary] : values.aurora === "source" ? auroraFromSource() : await buildAurora(join(work, "bin"));
    }
    // Extra environment through env(1): the target's own settings stay exactly the bench's.
    const command = values.env.length > 0 ? ["/usr/bin/env", ...values.env, ...base] : base;
    probe = probeFile;
    const target = await auroraTarget("sqlite", command, plc.url, join(work, "aurora"));
    const phases: Phase[] = [];
    try {
      const server = await target.start();
      try {
        await phase(server, "idle (2 s settle)", phases, () => Bun.sleep(2000));
        const accounts = await createAccounts(server.url, "user", 10);
        let refs: { did: string; rkey: string }[] = [];
        await phase(server, `createRecord x${records}`, phases, async () => {
          const created = await createRecords(server, accounts, { concurrency: 16, maxRequests: records, maxMs });
          refs = created.refs;
          return created.result;
        });
        const getUrls = refs.map((r) => xrpcUrl(server.url, "com.atproto.repo.getRecord", { repo: r.did, collection: COLLECTION, rkey: r.rkey }));
        await phase(server, "getRecord", phases, () => reads(getUrls, 20_000, maxMs));
        const listUrls = accounts.map((a) => xrpcUrl(server.url, "com.atproto.repo.listRecords", { repo: a.did, collection: COLLECTION, limit: 50 }));
        await phase(server, "listRecords", phases, () => reads(listUrls, 10_000, maxMs));
        const [owner] = await createAccounts(server.url, "export", 1);
        await phase(server, `applyWrites x${exportRecords}`, phases, () => seedRepo(server, owner!, exportRecords, 180_000));
        await phase(server, "getRepo x3", phases, () => exportRepo(server, owner!, exportRecords, 3));
        await phase(server, "idle after (5 s)", phases, () => Bun.sleep(5000));
        if (values.smaps) console.error(smapsSummary(server.pid));
      } finally {
        await server.stop();
      }
    } finally {
      await target.cleanup();
    }
    console.log(JSON.stringify({ env: values.env, records, exportRecords, phases }, null, 2));
  } finally {
    await plc.stop();
    untrackWork();
    await removeWork();
  }
  return 0;
}

process.exit(await main(process.argv.slice(2)));
