import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { redis } from "@plugins/cache-redis";
import type { UserConfig } from "@/config/schema";
import { query } from "@/xrpc/method";
import { type TestContext, testContext } from "@test/support/context";
import { ALGORITHMS } from "./types";

const url = process.env.AURORA_TEST_REDIS_URL;
if (!url) throw new Error("AURORA_TEST_REDIS_URL is not set: run through scripts/with-services.ts");

const LIMIT = 10;
const REQUESTS = 40;
const NODES = 3;

/** One method per algorithm, each with its own rule of LIMIT per minute per IP. */
const nsid = (algorithm: string) => `io.example.limited.${algorithm.replace("-", "")}`;
const methods = Object.fromEntries(ALGORITHMS.map((a) => [nsid(a), query({ handler: () => ({ ok: true }) })]));
const rateLimit = (distributed: boolean): UserConfig["rateLimit"] => ({
  distributed,
  unauthenticated: 1_000_000,
  rules: Object.fromEntries(ALGORITHMS.map((a) => [a, { key: "ip" as const, limits: [{ limit: LIMIT, windowMs: 60_000, algorithm: a }] }])),
  routes: Object.fromEntries(ALGORITHMS.map((a) => [nsid(a), [{ rule: a }]])),
});

/** Fires REQUESTS at once, spread round-robin over `nodes`, and counts the statuses. */
const burst = async (nodes: TestContext[], algorithm: string, ip: string) => {
  const responses = await Promise.all(
    Array.from({ length: REQUESTS }, (_, i) =>
      nodes[i % nodes.length]!.handle(new Request(`http://localhost/xrpc/${nsid(algorithm)}`), ip),
    ),
  );
  const count = (status: number) => responses.filter((r) => r.status === status).length;
  return { passed: count(200), refused: count(429) };
};

describe("local store: one node", () => {
  let node: TestContext;
  beforeAll(async () => {
    node = await testContext({ rateLimit: rateLimit(false) }, { methods });
  });
  afterAll(() => node.close());

  test.each(ALGORITHMS)(`%s: exactly ${LIMIT} of ${REQUESTS} concurrent requests pass`, async (algorithm) => {
    expect(await burst([node], algorithm, "198.51.100.1")).toEqual({ passed: LIMIT, refused: REQUESTS - LIMIT });
  });
});

describe(`distributed store: ${NODES} nodes sharing one Redis`, () => {
  const keyPrefix = `aurora-test:rl-nodes:${crypto.randomUUID().slice(0, 8)}:`;
  const nodes: TestContext[] = [];
  beforeAll(async () => {
    for (let i = 0; i < NODES; i++) {
      nodes.push(await testContext({ cache: redis({ url, keyPrefix, poolSize: 4 }), rateLimit: rateLimit(true) }, { methods }));
    }
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    const raw = new Redis(url);
    const keys = await raw.keys(`${keyPrefix}*`);
    if (keys.length) await raw.unlink(...keys);
    raw.disconnect();
  });

  test.each(ALGORITHMS)(`%s: exactly ${LIMIT} of ${REQUESTS} concurrent requests pass across the nodes`, async (algorithm) => {
    expect(await burst(nodes, algorithm, "198.51.100.2")).toEqual({ passed: LIMIT, refused: REQUESTS - LIMIT });
  });

  test("the state lives in Redis under CACHE_KEY_PREFIX", async () => {
    const raw = new Redis(url);
    try {
      const keys = (await raw.keys(`${keyPrefix}rl:*`)).map((k) => k.slice(keyPrefix.length)).toSorted();
      expect(keys).toEqual([
        "rl:fw:60000:fixed-window:198.51.100.2",
        "rl:fw:60000:tier-unauthenticated:198.51.100.2",
        "rl:sl:60000:sliding-log:198.51.100.2",
        "rl:tb:60000:token-bucket:198.51.100.2",
      ]);
    } finally {
      raw.disconnect();
    }
  });
});
