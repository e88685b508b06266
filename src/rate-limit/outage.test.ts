import { afterAll, beforeAll, expect, test } from "bun:test";
import { redis } from "@plugins/cache-redis";
import { type TestContext, testContext } from "@test/support/context";
import { eventually } from "@test/support/eventually";
import { type Service, startRedis } from "@test/support/services";

// A private Redis: this test kills it.
let service: Service;
const nodes: TestContext[] = [];
beforeAll(async () => {
  service = await startRedis();
  for (let i = 0; i < 2; i++) {
    nodes.push(await testContext({ cache: redis({ url: service.url, poolSize: 2 }), rateLimit: { distributed: true, unauthenticated: 4 } }));
  }
});
afterAll(async () => {
  for (const node of nodes) await node.close();
  await service.stop();
});

const DESCRIBE = "/xrpc/com.atproto.server.describeServer";
const send = (node: TestContext, ip: string) => node.handle(new Request(`http://localhost${DESCRIBE}`), ip);
const metric = async (node: TestContext, line: RegExp) => {
  const match = (await (await node.request("/metrics")).text()).match(line);
  return match ? Number(match[1]) : 0;
};

test("Redis killed mid-run: requests keep being served, limited per node, and the fallback is counted and warned about", async () => {
  const [a, b] = nodes as [TestContext, TestContext];
  // Shared: 4 per minute across both nodes.
  const shared = [await send(a, "198.51.100.1"), await send(b, "198.51.100.1"), await send(a, "198.51.100.1"), await send(b, "198.51.100.1"), await send(a, "198.51.100.1")];
  expect(shared.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);

  await service.kill();
  const during: number[] = [];
  for (let i = 0; i < 5; i++) during.push((await send(a, "198.51.100.2")).status);
  // The local store still limits (4 per node), and nothing fails with a 5xx.
  expect(during).toEqual([200, 200, 200, 200, 429]);
  expect((await send(b, "198.51.100.2")).status).toBe(200);

  expect(await metric(a, /^aurora_rate_limit_fallbacks_total (\d+)/m)).toBe(5);
  expect(await metric(b, /^aurora_rate_limit_fallbacks_total (\d+)/m)).toBe(1);
  expect(await metric(a, /^aurora_cache_degraded_total\{operation="atomic"\} (\d+)/m)).toBe(5);
  const warnings = a.logs.filter((l) => l.level === "warn" && String(l.msg).startsWith("distributed rate limiting unavailable"));
  expect(warnings.length).toBe(1);

  await service.start();
  await eventually(async () => {
    await send(a, "198.51.100.3");
    await send(b, "198.51.100.3");
    const restored = (n: TestContext) => n.logs.some((l) => l.msg === "distributed rate limiting restored");
    return restored(a) && restored(b);
  }, { timeoutMs: 10_000, what: "both nodes back on Redis" });
  // Back on Redis the nodes share one budget again.
  const fresh = "198.51.100.4";
  const after = [await send(a, fresh), await send(b, fresh), await send(a, fresh), await send(b, fresh), await send(a, fresh)];
  expect(after.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
});
