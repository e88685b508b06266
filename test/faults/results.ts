/**
 * The figures of one fault-suite run, one entry per fault, in a JSON file
 * (test/faults/results.json unless AURORA_FAULT_RESULTS names another). Every
 * fault test writes its own entry with `recordResult`; render-table.ts turns
 * the file into the table of docs/RELIABILITY.md. Faults this machine cannot
 * inject are recorded too, with `skipped` saying why.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { cpus, release, type } from "node:os";
import { join } from "node:path";

/** One fault's figures. Counts are over the whole test: before, during and after the fault. */
export interface FaultResult {
  /** Stable key, e.g. "node-sigkill"; a later run of the same fault replaces the entry. */
  id: string;
  /** What was done, for the table: "SIGKILL of a node (restart)". */
  fault: string;
  /** How many times the fault was injected in the test. */
  injections: number;
  /** Wall-clock seconds of the load, injections included. */
  durationSeconds: number;
  /** Requests sent by the load (writes, reads, uploads). */
  requests: number;
  /** Non-2xx answers by status; "timeout" for a request cut off by its own timeout, "network" for a refused or reset connection. */
  errorsByStatus: Record<string, number>;
  /** Answers that count as failures (5xx other than 502/503/504, hangs past the request timeout, wrong bodies). */
  failures: number;
  /** Writes acknowledged with 200 (uri and cid in the answer). */
  acknowledgedWrites: number;
  /** Acknowledged writes not found afterwards with the acknowledged cid. */
  lostWrites: number;
  /** Seconds from the end of the (last) fault to the first write acknowledged after it; null if none was. */
  recoverySeconds: number | null;
  /** Firehose subscribers and what they saw. */
  firehose: { subscribers: number; events: number; gaps: number; errors: number };
  /** Each check after recovery, by name, with what it found when it did not hold. */
  checks: { name: string; ok: boolean; detail?: string }[];
  /** Anything the table's reader should know about this row. */
  note?: string;
  /** Set when the fault could not be injected here: why. The other figures are then zero. */
  skipped?: string;
  /** ISO time the entry was written. */
  at: string;
}

/** The whole file. */
export interface ResultsFile {
  /** One line about the machine the run was on (cores, OS). */
  machine: string;
  results: FaultResult[];
}

/** The results file of this run. */
export function resultsPath(): string {
  return process.env.AURORA_FAULT_RESULTS ?? join(import.meta.dir, "results.json");
}

/** The file's contents, or an empty file if there is none yet. */
export function readResults(path = resultsPath()): ResultsFile {
  if (!existsSync(path)) return { machine: machineLine(), results: [] };
  const parsed = JSON.parse(readFileSync(path, "utf8")) as ResultsFile;
  if (!Array.isArray(parsed.results)) throw new Error(`${path} is not a fault results file (no results array)`);
  return parsed;
}

/** Add or replace (same id) one fault's entry; the write is atomic, so concurrent readers see old or new. */
export function recordResult(result: FaultResult, path = resultsPath()): void {
  const file = readResults(path);
  const results = file.results.filter((r) => r.id !== result.id);
  results.push(result);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ machine: machineLine(), results }, null, 2)}\n`);
  renameSync(tmp, path);
}

/** "2 cores, Linux 6.1, Bun 1.4.4" */
export function machineLine(): string {
  return `${cpus().length} cores, ${type()} ${release()}, Bun ${Bun.version}`;
}

/** Errors by status as "503×12, timeout×2", or "none". */
export function formatErrors(errors: Record<string, number>): string {
  const parts = Object.entries(errors)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}×${n}`);
  return parts.length ? parts.join(", ") : "none";
}

/** The markdown table of docs/RELIABILITY.md: one row per fault, in the file's order. */
export function renderTable(file: ResultsFile): string {
  const head = [
    "| Fault | Injections | Requests | Errors by status | Failures | Acked writes | Lost writes | Firehose gaps | Recovery (s) | Checks |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
  ];
  const rows = file.results.map((r) => {
    if (r.skipped) return `| ${r.fault} | – | – | – | – | – | – | – | – | not run: ${r.skipped} |`;
    const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
    const checks = failed.length ? `failed: ${failed.join(", ")}` : `all ${r.checks.length} hold`;
    const recovery = r.recoverySeconds === null ? "none" : r.recoverySeconds.toFixed(1);
    return `| ${r.fault} | ${r.injections} | ${r.requests} | ${formatErrors(r.errorsByStatus)} | ${r.failures} | ${r.acknowledgedWrites} | ${r.lostWrites} | ${r.firehose.gaps} | ${recovery} | ${checks} |`;
  });
  return [...head, ...rows].join("\n");
}

/** The row of a fault this machine could not inject: empty figures and why. */
export function skippedResult(id: string, fault: string, reason: string): FaultResult {
  return {
    id,
    fault,
    injections: 0,
    durationSeconds: 0,
    requests: 0,
    errorsByStatus: {},
    failures: 0,
    acknowledgedWrites: 0,
    lostWrites: 0,
    recoverySeconds: null,
    firehose: { subscribers: 0, events: 0, gaps: 0, errors: 0 },
    checks: [],
    skipped: reason,
    at: new Date().toISOString(),
  };
}
