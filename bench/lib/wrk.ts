/**
 * wrk as the load generator for read workloads: C, event-driven, a few
 * percent of a core at the rates these servers reach, so the figure is the
 * server's rather than the client's. A Lua script rotates over the URLs.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Latency, LoadResult } from "./load";

/** Reads the path list once per thread, starts each thread at a different place, then takes them in turn. */
const ROTATE_LUA = `local paths = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = ((thread_id or 1) - 1) * math.floor(#paths / 4)
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
`;

let available: Promise<boolean> | undefined;

/**
 * Whether `wrk` can run here; installs the Debian package once if it is
 * missing (as root, or with sudo that needs no password), as scripts/test.sh
 * does for the services.
 */
export function wrkAvailable(log: (line: string) => void): Promise<boolean> {
  available ??= (async () => {
    if (Bun.which("wrk")) return true;
    const sudo = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
    log("  wrk missing: apt-get install wrk");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const cmd of [
      [...sudo, "apt-get", "update", "-qq"],
      [...sudo, "apt-get", "install", "-y", "-qq", "wrk"],
    ]) {
      const child = Bun.spawn(cmd, { env, stdout: "ignore", stderr: "ignore", timeout: 180_000 });
      if ((await child.exited) !== 0) break;
    }
    return Bun.which("wrk") !== null;
  })();
  return available;
}

export interface WrkOptions {
  /** Every URL on the same origin. */
  urls: string[];
  connections: number;
  threads: number;
  seconds: number;
  /** Where the script and the path list go. */
  dir: string;
}

/** Run wrk for a fixed time over the URLs; its latency distribution and its own CPU (from the exited process). */
export async function runWrk(opts: WrkOptions): Promise<LoadResult> {
  const origin = new URL(opts.urls[0]!).origin;
  const pathsFile = join(opts.dir, "wrk-paths.txt");
  const script = join(opts.dir, "wrk-rotate.lua");
  writeFileSync(pathsFile, `${opts.urls.map((u) => u.slice(origin.length)).join("\n")}\n`);
  writeFileSync(script, ROTATE_LUA);
  const threads = Math.max(1, Math.min(opts.threads, opts.connections));
  const cmd = ["wrk", `-t${threads}`, `-c${opts.connections}`, `-d${Math.max(1, Math.round(opts.seconds))}s`, "--timeout", "30s", "--latency", "-s", script, `${origin}/`, "--", pathsFile];
  const child = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", timeout: (opts.seconds + 60) * 1000 });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`wrk exited ${code}: ${err.trim() || out.trim()}`);
  const usage = child.resourceUsage();
  const cpuSeconds = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : NaN;
  return parseWrk(out, cpuSeconds);
}

/** wrk's text report (with --latency) as a LoadResult. */
export function parseWrk(out: string, cpuSeconds: number): LoadResult {
  const summary = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  if (!summary) throw new Error(`wrk: no summary in its output:\n${out}`);
  const total = Number(summary[1]);
  const seconds = duration(summary[2]!, summary[3]!) / 1000;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((sum, v) => sum + Number(v), 0) : 0;
  const at = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    return m ? duration(m[1]!, m[2]!) : NaN;
  };
  const stats = /^\s*Latency\s+([\d.]+)(us|ms|s|m)\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/m.exec(out);
  const latencyMs: Latency = {
    p50: at("50"),
    p90: at("90"),
    p99: at("99"),
    max: stats ? duration(stats[3]!, stats[4]!) : NaN,
    mean: stats ? duration(stats[1]!, stats[2]!) : NaN,
  };
  const ok = total - non2xx;
  const result: LoadResult = { requests: ok, errors: non2xx + socketErrors, seconds, perSecond: ok / seconds, latencyMs, clientCpu: cpuSeconds / seconds };
  if (non2xx > 0) result.firstError = `${non2xx} responses were not 2xx`;
  else if (socketErrors > 0) result.firstError = `socket errors: ${socket![0]}`;
  return result;
}

/** A wrk duration (1.23ms, 456.78us, 1.2s, 1.00m) in ms. */
function duration(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000;
}
