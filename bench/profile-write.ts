/**
 * Profile the repo write path in one process: a real server context on
 * SQLite + disk with an in-memory PLC, 10 accounts, then createRecord calls
 * through the whole HTTP stack (no socket), 16 at a time. Run with Bun's
 * profiler to see where a write's CPU goes:
 *
 *   bun --cpu-prof-md --cpu-prof-dir /tmp/prof bench/profile-write.ts [writes]
 *
 * With DATABASE_URL set (postgresql://...), the same on PostgreSQL.
 */
import { createAccounts, inProcessCaller, profiledContext } from "./lib/in-process";

const writes = Number(process.argv[2] ?? 3000);
const { ctx, close } = await profiledContext();
const call = inProcessCaller(ctx);

const accounts = await createAccounts(call, "profile", 10);

/** Queries run so far, by `operation table`. */
const queries = async () => {
  const metric = await ctx.metrics.registry.getSingleMetric("aurora_db_queries_total")?.get();
  return new Map((metric?.values ?? []).map((v) => [`${v.labels.operation} ${v.labels.table}`, v.value]));
};
/** Seconds spent in queries so far (the duration histogram's sums), by `operation table`. */
const queryTime = async () => {
  const metric = await ctx.metrics.registry.getSingleMetric("aurora_db_query_duration_seconds")?.get();
  const sums = (metric?.values ?? []).filter((v) => (v as { metricName?: string }).metricName?.endsWith("_sum"));
  return new Map(sums.map((v) => [`${v.labels.operation} ${v.labels.table}`, v.value]));
};
const queriesBefore = await queries();
const timeBefore = await queryTime();
let next = 0;
const started = performance.now();
const cpu = process.cpuUsage();
await Promise.all(
  Array.from({ length: 16 }, async () => {
    for (let i = next++; i < writes; i = next++) {
      const { did, token } = accounts[i % accounts.length]!;
      await call("com.atproto.repo.createRecord", { repo: did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: `post ${i}`, createdAt: new Date().toISOString() } }, token);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
async function queriesPerWrite() {
  const byKind: Record<string, number> = {};
  for (const [kind, n] of await queries()) {
    const per = (n - (queriesBefore.get(kind) ?? 0)) / writes;
    if (per >= 0.05) byKind[kind] = +per.toFixed(2);
  }
  const msByKind: Record<string, number> = {};
  for (const [kind, sum] of await queryTime()) {
    const ms = ((sum - (timeBefore.get(kind) ?? 0)) * 1000) / writes;
    if (ms >= 0.005) msByKind[kind] = +ms.toFixed(3);
  }
  return {
    queriesPerWrite: +Object.values(byKind).reduce((a, b) => a + b, 0).toFixed(1),
    byKind,
    queryMsPerWrite: +Object.values(msByKind).reduce((a, b) => a + b, 0).toFixed(3),
    msByKind,
  };
}
const used = process.cpuUsage(cpu);
console.log(
  JSON.stringify({
    writes,
    perSecond: Math.round(writes / seconds),
    cpuMsPerWrite: +((used.user + used.system) / 1000 / writes).toFixed(3),
    ...(await queriesPerWrite()),
  }),
);
await close();
process.exit(0);
