/**
 * Time getRepo exports in one process: a real server context on SQLite + disk
 * (or PostgreSQL with DATABASE_URL), one account of N records (applyWrites of
 * 200), then `runs` full exports through the request path, each read to the
 * end; prints the median, the fastest and the CPU per export.
 *
 *   bun bench/profile-export.ts [records] [runs]
 */
import { createAccounts, inProcessCaller, profiledContext } from "./lib/in-process";

const records = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 15);
if (!(records > 0 && records <= 100_000 && runs > 0 && runs <= 200)) {
  console.error("usage: profile-export.ts [records 1..100000] [runs 1..200]");
  process.exit(2);
}
const { ctx, close } = await profiledContext();
const call = inProcessCaller(ctx);
const [owner] = await createAccounts(call, "exporter", 1);
for (let done = 0; done < records; done += 200) {
  const writes = Array.from({ length: Math.min(200, records - done) }, (_, i) => ({
    $type: "com.atproto.repo.applyWrites#create",
    collection: "app.bsky.feed.post",
    value: { $type: "app.bsky.feed.post", text: `post ${done + i} of an exported repository`, createdAt: new Date().toISOString() },
  }));
  await call("com.atproto.repo.applyWrites", { repo: owner!.did, writes }, owner!.token);
}
const times: number[] = [];
let bytes = 0;
const cpu = process.cpuUsage();
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const res = await ctx.handle(new Request(`http://localhost/xrpc/com.atproto.sync.getRepo?did=${owner!.did}`));
  if (res.status !== 200) throw new Error(`getRepo: ${res.status} ${await res.text()}`);
  bytes = (await res.arrayBuffer()).byteLength;
  times.push(performance.now() - started);
}
const used = process.cpuUsage(cpu);
times.sort((a, b) => a - b);
console.log(JSON.stringify({ records, runs, bytes, medianMs: +times[Math.floor(runs / 2)]!.toFixed(1), fastestMs: +times[0]!.toFixed(1), cpuMsPerExport: +((used.user + used.system) / 1000 / runs).toFixed(1) }));
await close();
process.exit(0);
