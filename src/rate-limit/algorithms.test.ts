import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memory } from "@/cache/memory";
import type { CachePlugin } from "@/contracts/cache";
import { redis } from "@plugins/cache-redis";
import { testPluginContext } from "@test/conformance/cache";
import { LIMIT_SCRIPTS } from "./algorithms";
import type { LimitReply } from "./scripts";
import { ALGORITHMS, type Algorithm } from "./types";

const url = process.env.AURORA_TEST_REDIS_URL;
if (!url) throw new Error("AURORA_TEST_REDIS_URL is not set: run through scripts/with-services.ts");

const stores: Record<string, CachePlugin> = {
  memory: memory(),
  redis: redis({ url, keyPrefix: `aurora-test:rl-alg:${crypto.randomUUID().slice(0, 8)}:`, poolSize: 2 }),
};
beforeAll(async () => {
  for (const store of Object.values(stores)) await store.init(testPluginContext().ctx);
});
afterAll(async () => {
  for (const store of Object.values(stores)) await store.close();
});

const cases = Object.keys(stores).flatMap((store) => ALGORITHMS.map((algorithm) => [algorithm, store] as const));
const take = (algorithm: Algorithm, store: string, key: string, limit: number, windowMs: number, cost = 1) =>
  stores[store]!.atomic(LIMIT_SCRIPTS[algorithm], [key], [limit, windowMs, cost]) as Promise<LimitReply>;

describe.each(cases)("%s on %s", (algorithm, store) => {
  test("passes `limit` points, then refuses with a wait no longer than the window", async () => {
    const key = crypto.randomUUID();
    const replies: LimitReply[] = [];
    for (let i = 0; i < 7; i++) replies.push(await take(algorithm, store, key, 5, 60_000));
    expect(replies.map((r) => r[0])).toEqual([1, 1, 1, 1, 1, 0, 0]);
    expect(replies.map((r) => r[1])).toEqual([4, 3, 2, 1, 0, 0, 0]);
    for (const [allowed, , resetMs, retryMs] of replies) {
      expect(resetMs).toBeGreaterThan(0);
      expect(resetMs).toBeLessThanOrEqual(60_000);
      if (allowed) expect(retryMs).toBe(0);
      else expect(retryMs).toBeGreaterThan(0);
      expect(retryMs).toBeLessThanOrEqual(60_000);
    }
  });

  test("a request costs its points, and a refused one costs nothing", async () => {
    const key = crypto.randomUUID();
    expect((await take(algorithm, store, key, 5, 60_000, 3)).slice(0, 2)).toEqual([1, 2]);
    expect((await take(algorithm, store, key, 5, 60_000, 3)).slice(0, 2)).toEqual([0, 2]);
    expect((await take(algorithm, store, key, 5, 60_000, 2)).slice(0, 2)).toEqual([1, 0]);
    expect((await take(algorithm, store, key, 5, 60_000, 9)).slice(0, 2)).toEqual([0, 0]);
  });

  test("keys are independent", async () => {
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    await take(algorithm, store, a, 1, 60_000);
    expect((await take(algorithm, store, a, 1, 60_000))[0]).toBe(0);
    expect((await take(algorithm, store, b, 1, 60_000))[0]).toBe(1);
  });

  test("after the advertised wait the request passes again", async () => {
    const key = crypto.randomUUID();
    for (let i = 0; i < 3; i++) await take(algorithm, store, key, 3, 400);
    const [allowed, , , retryMs] = await take(algorithm, store, key, 3, 400);
    expect(allowed).toBe(0);
    await Bun.sleep(retryMs + 30);
    expect((await take(algorithm, store, key, 3, 400))[0]).toBe(1);
  });
});

describe("how the algorithms differ at the window edge", () => {
  /** Spend 4 of 4 in two halves 250 ms apart, then ask for 4 more 450 ms after the start (window 400 ms). */
  const edge = async (algorithm: Algorithm, store: string) => {
    const key = crypto.randomUUID();
    await take(algorithm, store, key, 4, 400, 2);
    await Bun.sleep(250);
    await take(algorithm, store, key, 4, 400, 2);
    await Bun.sleep(200);
    const passed: number[] = [];
    for (let i = 0; i < 4; i++) passed.push((await take(algorithm, store, key, 4, 400))[0]);
    return passed.reduce((a, b) => a + b, 0);
  };

  test.each(Object.keys(stores))("%s: the fixed window resets whole; the sliding log frees only what left the window", async (store) => {
    const [fixed, sliding] = await Promise.all([edge("fixed-window", store), edge("sliding-log", store)]);
    expect(fixed).toBe(4);
    expect(sliding).toBe(2);
  });

  test.each(Object.keys(stores))("%s: the token bucket refills steadily", async (store) => {
    const key = crypto.randomUUID();
    // 10 tokens per 1000 ms: empty it, wait 350 ms, and about 3 tokens are back.
    for (let i = 0; i < 10; i++) await take("token-bucket", store, key, 10, 1000);
    await Bun.sleep(350);
    let passed = 0;
    for (let i = 0; i < 10; i++) passed += (await take("token-bucket", store, key, 10, 1000))[0];
    expect(passed).toBeGreaterThanOrEqual(3);
    expect(passed).toBeLessThanOrEqual(5);
  });
});
