/**
 * Profile the record reads in one process: a real server context on SQLite +
 * disk (or PostgreSQL with DATABASE_URL) with an in-memory PLC, 10 accounts of
 * 100 posts each, then getRecord or listRecords (the first page of 50) two
 * ways: through the whole request path without a socket, and through
 * Bun.serve driven by wrk (one thread, 16 connections). The gap between the two
 * is what the HTTP server costs. Run with Bun's profiler to see where it goes:
 *
 *   bun [--cpu-prof-md --cpu-prof-dir /tmp/prof] bench/profile-read.ts [listRecords|getRecord] [seconds]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listen } from "@/http/server";
import { createAccounts, inProcessCaller, profiledContext } from "./lib/in-process";

const workload = process.argv[2] ?? "listRecords";
const seconds = Number(process.argv[3] ?? 5);
if (!["listRecords", "getRecord"].includes(workload) || !(seconds > 0 && seconds <= 60)) {
  console.error("usage: profile-read.ts [listRecords|getRecord] [seconds 1..60]");
  process.exit(2);
}
const { ctx, dir, close } = await profiledContext();
const call = inProcessCaller(ctx);
const accounts = await createAccounts(call, "reader", 10);
const paths: string[] = [];
for (const { did, token } of accounts) {
  const writes = Array.from({ length: 100 }, (_, i) => ({
    $type: "com.atproto.repo.applyWrites#create",
    collection: "app.bsky.feed.post",
    value: { $type: "app.bsky.feed.post", text: `post ${i} of a profiled account`, createdAt: new Date().toISOString() },
  }));
  const out = (await call("com.atproto.repo.applyWrites", { repo: did, writes }, token)) as unknown as { results: { uri: string }[] };
  if (workload === "listRecords") paths.push(`/xrpc/com.atproto.repo.listRecords?repo=${did}&collection=app.bsky.feed.post&limit=50`);
  else for (const r of out.results.slice(0, 10)) paths.push(`/xrpc/com.atproto.repo.getRecord?repo=${did}&collection=app.bsky.feed.post&rkey=${r.uri.split("/").pop()}`);
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

// In process: the request path without a socket, 16 at a time.
let n = 0;
let cpu = process.cpuUsage();
let started = performance.now();
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (performance.now() - started < seconds * 1000) {
      const res = await ctx.handle(new Request(`http://localhost${paths[n++ % paths.length]}`));
      if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  }),
);
const inProcess = { requests: n, perSecond: Math.round(n / seconds), cpuMsPerRequest: +(cpuMs(process.cpuUsage(cpu)) / n).toFixed(3) };

// Through Bun.serve, wrk as the client.
const server = listen(ctx, 0);
const lua = join(dir, "rotate.lua");
writeFileSync(join(dir, "paths.txt"), `${paths.join("\n")}\n`);
writeFileSync(lua, `local paths = {}\nfunction init(args) for line in io.lines(args[1]) do paths[#paths + 1] = line end i = 0 end\nfunction request() i = i + 1 return wrk.format("GET", paths[(i % #paths) + 1]) end\n`);
cpu = process.cpuUsage();
started = performance.now();
const wrk = Bun.spawn(["wrk", "-t1", "-c16", `-d${seconds}s`, "-s", lua, `http://127.0.0.1:${server.port}`, "--", join(dir, "paths.txt")], { stdout: "pipe" });
const out = await new Response(wrk.stdout).text();
await wrk.exited;
const wall = (performance.now() - started) / 1000;
const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
const overHttp = { requests: total, perSecond: Math.round(total / wall), cpuMsPerRequest: +(cpuMs(process.cpuUsage(cpu)) / total).toFixed(3), non2xx: /Non-2xx[^\n]*/.exec(out)?.[0] ?? "none" };
console.log(JSON.stringify({ workload, seconds, inProcess, overHttp }));

await server.shutdown();
await close();
process.exit(0);
