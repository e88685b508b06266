/**
 * Rate-limit overhead: requests per second on a cheap route
 * (describeServer) with limits off, then on with each algorithm on the local
 * store and on Redis, plus the authenticated tier (a session token verified
 * per request). Run by hand, not part of `npm test`:
 *
 *   bun bench/rate-limit.ts [--seconds 8] [--concurrency 32] [--redis redis://127.0.0.1:6379]
 *
 * Without --redis a private Redis is started (and stopped) on a free loopback port.
 */
import { parseArgs } from "node:util";
import { createTokenSigner, SCOPE } from "@/auth/tokens";
import { ALGORITHMS } from "@/rate-limit/types";
import { startRedis } from "@test/support/services";
import { stopAllOnSignal, track } from "./lib/cleanup";
import { runLoad } from "./lib/load";
import { type Scenario, SECRETS } from "./rate-limit-scenario";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "8" }, concurrency: { type: "string", default: "32" }, redis: { type: "string" } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
stopAllOnSignal();

const privateRedis = values.redis ? undefined : await startRedis();
const untrackRedis = privateRedis ? track(() => privateRedis.stop()) : () => {};
const redisUrl = values.redis ?? privateRedis!.url;
const keyPrefix = `aurora-bench:${crypto.randomUUID().slice(0, 8)}:`;

const scenarios: (Scenario & { token?: boolean })[] = [
  { name: "off", limits: false, algorithm: "fixed-window" },
  ...ALGORITHMS.map((algorithm) => ({ name: `local ${algorithm}`, limits: true, algorithm })),
  { name: "local fixed-window, authenticated", limits: true, algorithm: "fixed-window", token: true },
  ...ALGORITHMS.map((algorithm) => ({ name: `redis ${algorithm}`, limits: true, algorithm, redis: { url: redisUrl, keyPrefix } })),
  { name: "redis fixed-window, authenticated", limits: true, algorithm: "fixed-window", redis: { url: redisUrl, keyPrefix }, token: true },
];

const signer = createTokenSigner(SECRETS.jwtSecret, "did:web:localhost");
const token = (await signer.sign({ did: "did:plc:benchuser", scope: SCOPE.access, sessionId: "bench" })).accessJwt;

async function measure(scenario: (typeof scenarios)[number]) {
  const { token: withToken, ...serverScenario } = scenario;
  const child = Bun.spawn(["node_modules/.bin/bun", "bench/rate-limit-server.ts", JSON.stringify(serverScenario)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const stop = async () => {
    child.kill("SIGTERM");
    await child.exited;
  };
  const untrack = track(stop);
  try {
    const reader = child.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    reader.releaseLock();
    const { port } = JSON.parse(first.split("\n")[0]!) as { port: number };
    const url = `http://127.0.0.1:${port}/xrpc/com.atproto.server.describeServer`;
    const headers: Record<string, string> = withToken ? { authorization: `Bearer ${token}` } : {};
    const send = async () => {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      if (scenario.limits !== res.headers.has("ratelimit-limit")) throw new Error("RateLimit headers do not match the scenario");
    };
    await runLoad({ concurrency, maxRequests: 1_000_000, maxMs: 1000, send });
    return await runLoad({ concurrency, maxRequests: 10_000_000, maxMs: seconds * 1000, send });
  } finally {
    await stop();
    untrack();
  }
}

const rows: { name: string; perSecond: number; p50: number; p99: number; errors: number }[] = [];
for (const scenario of scenarios) {
  const result = await measure(scenario);
  rows.push({ name: scenario.name, perSecond: result.perSecond, p50: result.latencyMs.p50, p99: result.latencyMs.p99, errors: result.errors });
  console.error(`[bench] ${scenario.name}: ${Math.round(result.perSecond)} req/s${result.firstError ? ` (first error: ${result.firstError})` : ""}`);
}
if (privateRedis) await privateRedis.stop();
untrackRedis();

const base = rows[0]!.perSecond;
console.log(`\nRate-limit overhead: GET describeServer, ${concurrency} concurrent, ${seconds} s per scenario\n`);
console.log("| scenario | req/s | vs off | p50 ms | p99 ms | errors |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(`| ${r.name} | ${Math.round(r.perSecond)} | ${(r.perSecond / base).toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.errors} |`);
}
