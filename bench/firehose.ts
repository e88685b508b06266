/**
 * Firehose fan-out benchmark (run by hand; not a timed test):
 *
 *   node_modules/.bin/bun bench/firehose.ts [--subscribers 500] [--rate 200] [--seconds 20] [--sample-every 10]
 *   node_modules/.bin/bun scripts/with-services.ts -- node_modules/.bin/bun bench/firehose.ts --postgres
 *
 * One Aurora node in this process (SQLite, or a fresh PostgreSQL database
 * with --postgres) takes paced #commit events through the sequencer (about
 * 1 KB each, one transaction per commit, then announce; open loop, up to 32
 * transactions in flight) while N subscribers
 * in a separate process (bench/workloads/subscriber-process.ts) hold live subscriptions.
 * Delivery latency = arrival at a subscriber minus the moment the writing
 * transaction committed, over every event of every sampled subscriber.
 * Reports p50/p90/p99/max, delivery completeness, and the server's RSS.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type RunConfig, resolveConfig } from "@/config/resolve";
import { createContext } from "@/context";
import { listen } from "@/http/server";
import { createLogger } from "@/log";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { bigCommit, freshPostgres } from "@test/support/firehose";
import { readLines } from "./lib/lines";
import type { SubscriberReport } from "./workloads/subscriber-process";


const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "500" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "20" },
    "sample-every": { type: "string", default: "10" },
    postgres: { type: "boolean", default: false },
  },
});
const subscribers = Number(values.subscribers);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const sampleEvery = Number(values["sample-every"]);
const now = () => performance.timeOrigin + performance.now();

const dataDir = mkdtempSync(join(tmpdir(), "aurora-bench-firehose-"));
const pg = values.postgres ? await freshPostgres() : undefined;
const config = resolveConfig({
  dataDir,
  log: { level: "warn" },
  secrets: { jwtSecret: "bench-jwt-secret-0123456789", adminPassword: "bench-admin-pw", plcRotationKeyHex: "b".repeat(64) },
  db: pg ? postgres({ url: pg.url, maxConnections: 10, minConnections: 2 }) : sqlite(),
  rateLimit: { enabled: false },
  // Every simulated subscriber comes from loopback: lift the per-IP cap above the run's count.
  firehose: { maxSubscribersPerIp: Math.max(50, subscribers), maxSubscribers: Math.max(5000, subscribers) },
}) as RunConfig;
const ctx = await createContext(config, { log: createLogger("warn") });
const server = listen(ctx, 0);

const wsUrl = `ws://127.0.0.1:${server.port}/xrpc/com.atproto.sync.subscribeRepos`;
const reportFile = join(dataDir, "subscribers.json");
const clients = Bun.spawn([process.execPath, join(import.meta.dir, "workloads/subscriber-process.ts"), wsUrl, String(subscribers), String(sampleEvery), reportFile], {
  stdin: "pipe",
  stdout: "pipe",
  stderr: "inherit",
});
const lines = readLines(clients.stdout);
if ((await lines.next()).value !== "ready") throw new Error("subscriber process did not start");
while (ctx.firehose.size < subscribers) await Bun.sleep(10);
const rssBefore = process.memoryUsage().rss;

// Open-loop writer: event i starts at start + i/rate, up to MAX_IN_FLIGHT transactions at once (many users writing),
// so a slow commit does not hold back the schedule; the seq lock still orders them.
const MAX_IN_FLIGHT = 32;
const committedAt = new Map<number, number>();
let peakRss = rssBefore;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
const cpuBefore = process.cpuUsage();
const total = rate * seconds;
const inFlight = new Set<Promise<void>>();
const started = now();
for (let i = 0; i < total; i++) {
  const due = started + (i * 1000) / rate;
  if (due > now()) await Bun.sleep(due - now());
  while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
  const write = (async () => {
    const commit = await bigCommit(`did:plc:bench${String(i % 50).padStart(19, "a")}`, 600);
    const seq = await ctx.db.transaction((tx) => ctx.sequencer.sequenceCommit(tx, commit));
    committedAt.set(seq, now());
    ctx.sequencer.announce();
  })();
  inFlight.add(write);
  void write.finally(() => inFlight.delete(write));
}
await Promise.all(inFlight);
const writeSeconds = (now() - started) / 1000;
await Bun.sleep(2000);
const cpu = process.cpuUsage(cpuBefore);
clearInterval(rssTimer);
const rssEnd = process.memoryUsage().rss;
peakRss = Math.max(peakRss, rssEnd);

clients.stdin.write("done\n");
await clients.stdin.flush();
if ((await lines.next()).value !== "reported") throw new Error("subscriber process ended without its report");
const report = JSON.parse(readFileSync(reportFile, "utf8")) as SubscriberReport;
const latencies: number[] = [];
for (const [, arrival, , seq] of report.samples) {
  const at = committedAt.get(seq);
  if (at !== undefined) latencies.push(arrival - at);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(2);
const delivered = report.commitsPerSocket.reduce((a, b) => a + b, 0);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);


console.log(
  JSON.stringify(
    {
      database: pg ? "postgres" : "sqlite",
      subscribers,
      targetRate: rate,
      achievedRate: Number((total / writeSeconds).toFixed(1)),
      events: total,
      delivered: `${delivered} of ${total * subscribers}`,
      latencyMs: { samples: latencies.length, p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100) },
      serverRssMb: { beforeWrites: mb(rssBefore), peak: mb(peakRss), afterDrain: mb(rssEnd) },
      serverCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
      clientRssMb: Math.round(report.rssMb),
      clientCpuSeconds: Number(report.cpuSeconds.toFixed(1)),
      subscriberFrames: report.frameTypes,
      subscribersClosedEarly: report.closedEarly,
    },
    null,
    2,
  ),
);

await clients.exited;
await server.shutdown();
await ctx.close();
await pg?.drop();
rmSync(dataDir, { recursive: true, force: true });
