/**
 * The Scalability Guide's metrics, read from /metrics after the thing they
 * count happened on real backends. Rate-limit counters are proven in
 * src/rate-limit/*.test.ts, database metrics per plugin in
 * src/db/metrics.test.ts, aurora_cache_degraded_total in the Redis plugin's
 * and the rate limiter's outage tests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { redis } from "@plugins/cache-redis";
import { type TestContext, testContext } from "./support/context";

const url = process.env.AURORA_TEST_REDIS_URL;
if (!url) throw new Error("AURORA_TEST_REDIS_URL is not set: run through scripts/with-services.ts");

const keyPrefix = `aurora-test:metrics:${crypto.randomUUID().slice(0, 8)}:`;
let a: TestContext;
let b: TestContext;
beforeAll(async () => {
  a = await testContext({ cache: redis({ url, keyPrefix, poolSize: 2 }) });
  b = await testContext({ cache: redis({ url, keyPrefix, poolSize: 2 }) });
});
afterAll(async () => {
  await a.close();
  await b.close();
  const raw = new Redis(url);
  const keys = await raw.keys(`${keyPrefix}*`);
  if (keys.length) await raw.unlink(...keys);
  raw.disconnect();
});

const scrape = async (node: TestContext) => (await node.request("/metrics")).text();
const value = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("cache metrics through two nodes sharing Redis", () => {
  test("repeated resolution: one miss loads, every later read on any node hits, and the hit rate follows", async () => {
    const did = "did:plc:metricsalice";
    let loads = 0;
    const resolve = (node: TestContext) => node.cached.get("did:doc", did, async () => ({ id: did, n: ++loads }));
    await resolve(a);
    for (let i = 0; i < 3; i++) await resolve(b);
    await resolve(a);
    expect(loads).toBe(1);

    const [textA, textB] = [await scrape(a), await scrape(b)];
    expect(value(textA, 'aurora_cache_misses_total{category="did:doc"}')).toBe(1);
    expect(value(textA, 'aurora_cache_hits_total{category="did:doc"}')).toBe(1);
    expect(value(textA, 'aurora_cache_hit_rate{category="did:doc"}')).toBe(0.5);
    expect(value(textB, 'aurora_cache_hits_total{category="did:doc"}')).toBe(3);
    expect(value(textB, 'aurora_cache_hit_rate{category="did:doc"}')).toBe(1);

    // A write on one node (a handle update invalidates) makes the other node load again.
    await a.cached.invalidate("did:doc", did);
    await resolve(b);
    expect(loads).toBe(2);
    const after = await scrape(b);
    expect(value(after, 'aurora_cache_misses_total{category="did:doc"}')).toBe(1);
    expect(value(after, 'aurora_cache_hit_rate{category="did:doc"}')).toBe(0.75);
  });

  test("categories are labelled apart", async () => {
    await a.cached.get("did:handle", "alice.test", async () => "did:plc:metricsalice");
    await a.cached.get("did:handle", "alice.test", async () => "did:plc:metricsalice");
    const text = await scrape(a);
    expect(value(text, 'aurora_cache_misses_total{category="did:handle"}')).toBe(1);
    expect(value(text, 'aurora_cache_hits_total{category="did:handle"}')).toBe(1);
  });
});

describe("database metrics at /metrics", () => {
  test("the start-up migration's queries are counted and the connection gauge is exported", async () => {
    const text = await scrape(a);
    expect(value(text, 'aurora_db_queries_total{operation="SELECT",table="aurora_migration"}')).toBeGreaterThan(0);
    expect(value(text, 'aurora_db_query_duration_seconds_count{operation="SELECT",table="aurora_migration"}')).toBeGreaterThan(0);
    expect(value(text, 'aurora_db_connections{state="max"}')).toBe(1);
    expect(value(text, 'aurora_db_connections{state="total"}')).toBe(1);
    expect(value(text, 'aurora_db_connections{state="active"}')).toBe(0);
  });
});
