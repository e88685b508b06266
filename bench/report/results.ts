import type { Machine } from "../lib/proc";
import type { TargetResult } from "../suite";
import type { WriteProfile } from "../workloads/write-profile";

/** What a run writes to bench/results/<date>.json. */
export interface BenchResults {
  /** Start of the run, ISO 8601. */
  date: string;
  machine: Machine;
  versions: { aurora: string; bun: string; reference?: string; referenceNode?: string };
  options: Record<string, unknown>;
  targets: TargetResult[];
  /** Targets that could not be started at all (and "profile" when the write profile failed). */
  failures: Record<string, string>;
  /** What drove getRecord/listRecords. */
  readClient?: "wrk" | "bun";
  /** The earlier run the "no worse than before" targets compare with: its figures by target and metric label. */
  baseline?: Baseline;
  /** bench/profile-write.ts under Bun's profiler. */
  writeProfile?: WriteProfile;
  /** Wall time of the whole run. */
  seconds?: number;
}

/** File name stem for a run: its UTC date (a later run the same day replaces it). */
export function runStamp(iso: string): string {
  return iso.slice(0, 10);
}

export interface Baseline {
  file: string;
  date: string;
  values: Record<string, Record<string, number>>;
}
