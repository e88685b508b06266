import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const SCRIPT = join(ROOT, "bench/profile-write.ts");
const TOP = 15;
const TIMEOUT_MS = 300_000;

export interface HotFunction {
  selfPercent: number;
  selfMs: number;
  totalPercent: number;
  name: string;
  /** File:line, relative to the repository where it is inside it. */
  location: string;
}

export interface WriteProfile {
  writes: number;
  perSecond: number;
  cpuMsPerWrite: number;
  queriesPerWrite: number;
  /** Queries per write by `OPERATION table` (aurora_db_queries_total's labels; OTHER none is BEGIN/COMMIT/SAVEPOINT). */
  byKind?: Record<string, number>;
  /** The profiled process's sampled time, ms. */
  profiledMs: number;
  /** Functions by self time, highest first. */
  top: HotFunction[];
}

/**
 * bench/profile-write.ts (createRecord through the whole HTTP stack in one
 * process, SQLite + disk, from source) under `bun --cpu-prof-md`: its own
 * figures and the profile's top functions by self time.
 */
export async function profileWrites(writes: number, dir: string): Promise<WriteProfile> {
  mkdirSync(dir, { recursive: true });
  const child = Bun.spawn([process.execPath, "--cpu-prof-md", "--cpu-prof-dir", dir, SCRIPT, String(writes)], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    timeout: TIMEOUT_MS,
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`profile-write.ts exited ${code}: ${err.trim().slice(-500)}`);
  const figures = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Omit<WriteProfile, "top" | "profiledMs">;
  const md = readdirSync(dir).find((f) => f.endsWith(".md"));
  if (!md) throw new Error(`bun --cpu-prof-md wrote no profile into ${dir}`);
  return { ...figures, ...parseProfile(readFileSync(join(dir, md), "utf8")) };
}

/** The duration and the "Hot Functions (Self Time)" table of Bun's markdown profile. */
export function parseProfile(md: string): { profiledMs: number; top: HotFunction[] } {
  const durationRow = /^\|\s*([\d.]+)(us|ms|s)\s*\|/m.exec(md.slice(md.indexOf("| Duration")));
  const profiledMs = durationRow ? toMs(durationRow[1]!, durationRow[2]!) : NaN;
  const section = md.slice(md.indexOf("## Hot Functions"));
  const rows = section.split("\n## ")[0]!.split("\n").filter((l) => /^\|\s*[\d.]+%/.test(l));
  const top = rows.slice(0, TOP).map((line) => {
    const [selfPercent, self, totalPercent, , name, location] = line.split("|").slice(1, -1).map((c) => c.trim());
    const [, value = "0", unit = "ms"] = /([\d.]+)(us|ms|s)/.exec(self ?? "") ?? [];
    return {
      selfPercent: parseFloat(selfPercent ?? "0"),
      selfMs: toMs(value, unit),
      totalPercent: parseFloat(totalPercent ?? "0"),
      name: (name ?? "").replaceAll("`", ""),
      location: (location ?? "").replaceAll("`", "").replace(`${ROOT}/`, ""),
    };
  });
  return { profiledMs, top };
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}
