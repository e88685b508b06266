/**
 * One Aurora server for bench/rate-limit.ts, in its own process so the load
 * generator does not share its CPU: `bun bench/rate-limit-server.ts '<scenario json>'`.
 * Prints `{"port":N}` once listening; stops on SIGTERM.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { redis } from "@plugins/cache-redis";
import { type RunConfig, resolveConfig } from "@/config/resolve";
import { createContext } from "@/context";
import { listen } from "@/http/server";
import { type Scenario, SECRETS } from "./rate-limit-scenario";

const scenario = JSON.parse(process.argv[2] ?? "{}") as Scenario;
const dataDir = mkdtempSync(join(tmpdir(), "aurora-bench-rl-"));
const config = resolveConfig({
  dataDir,
  service: { bind: "127.0.0.1" },
  // Request log lines off for every scenario alike: they would dominate a route this cheap.
  log: { level: "warn" },
  secrets: SECRETS,
  ...(scenario.redis ? { cache: redis({ url: scenario.redis.url, keyPrefix: scenario.redis.keyPrefix }) } : {}),
  rateLimit: {
    enabled: scenario.limits,
    distributed: scenario.redis !== undefined,
    tierAlgorithm: scenario.algorithm,
    // Never refuse: the benchmark measures the cost of counting, not of 429s.
    authenticated: 10_000_000,
    unauthenticated: 10_000_000,
  },
}) as RunConfig;
const ctx = await createContext(config);
const server = listen(ctx, 0);
console.log(JSON.stringify({ port: server.port }));

process.once("SIGTERM", async () => {
  await server.shutdown();
  await ctx.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
});
