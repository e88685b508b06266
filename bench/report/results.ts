import type { Machine } from "../lib/proc";
import type { TargetResult } from "../suite";

/** What a run writes to bench/results/<date>.json. */
export interface BenchResults {
  /** Start of the run, ISO 8601. */
  date: string;
  machine: Machine;
  versions: { aurora: string; bun: string; reference?: string; referenceNode?: string };
  options: Record<string, unknown>;
  targets: TargetResult[];
  /** Targets that could not be started at all. */
  failures: Record<string, string>;
  /** Wall time of the whole run. */
  seconds?: number;
}

/** File name stem for a run: its UTC date (a later run the same day replaces it). */
export function runStamp(iso: string): string {
  return iso.slice(0, 10);
}
