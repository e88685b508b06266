import { afterAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import type { Counter } from "prom-client";
import { PluginError } from "@/plugin-kit";
import { cacheConformance, TAKE_SCRIPT, testPluginContext } from "@test/conformance/cache";
import { freePort, startRedis } from "@test/support/services";
import { DEGRADED_METRIC } from "./degradation";
import { redis } from "./index";
import { eventually } from "@test/support/eventually";

const url = process.env.AURORA_TEST_REDIS_URL;
if (!url) throw new Error("AURORA_TEST_REDIS_URL is not set: run through scripts/with-services.ts");
/** Unique per run, so runs sharing one Redis never see each other's keys. */
const runPrefix = `aurora-test:${crypto.randomUUID().slice(0, 8)}:`;

cacheConformance("redis", () => redis({ url, keyPrefix: runPrefix, poolSize: 4 }));

describe("cache-redis", () => {
  const raw = new Redis(url, { lazyConnect: true });
  /** Every key matching `pattern`, by SCAN like the plugin (KEYS would block a shared Redis). */
  const scanAll = async (pattern: string) => {
    const found: string[] = [];
    for await (const batch of raw.scanStream({ match: pattern, count: 500 })) found.push(...(batch as string[]));
    return found;
  };
  afterAll(async () => {
    const keys = await scanAll(`${runPrefix}*`);
    if (keys.length) await raw.unlink(...keys);
    raw.disconnect();
  });

  test("keys and channels live under keyPrefix", async () => {
    const prefix = `${runPrefix}own:`;
    const cache = redis({ url, keyPrefix: prefix, poolSize: 2 });
    await cache.init(testPluginContext().ctx);
    const listener = new Redis(url);
    try {
      await cache.set("did:plc:abc", "doc", 60);
      await cache.incr("hits", 1, 60);
      expect(await raw.get(`${prefix}did:plc:abc`)).toBe("doc");
      expect(await raw.exists("did:plc:abc", "hits")).toBe(0);
      expect((await scanAll(`${prefix}*`)).toSorted()).toEqual([`${prefix}did:plc:abc`, `${prefix}hits`]);
      const pttl = await raw.pttl(`${prefix}hits`);
      expect(pttl).toBeGreaterThan(50_000);
      const heard: string[] = [];
      listener.on("message", (channel: string, message: string) => heard.push(`${channel}=${message}`));
      await listener.subscribe(`${prefix}signals`);
      await cache.publish("signals", "ping");
      await eventually(() => heard.length === 1, { what: "message on the prefixed channel" });
      expect(heard).toEqual([`${prefix}signals=ping`]);
    } finally {
      listener.disconnect();
      await cache.close();
    }
  });

  test("poolSize command connections are used round-robin, plus one for pub/sub", async () => {
    const connectionName = `pooltest${crypto.randomUUID().slice(0, 8)}`;
    const cache = redis({ url, keyPrefix: runPrefix, poolSize: 3, connectionName });
    await cache.init(testPluginContext().ctx);
    try {
      for (let i = 0; i < 6; i++) await cache.get("pool:probe");
      const clients = (await raw.client("LIST") as string)
        .split("\n")
        .filter((line) => line.includes(` name=${connectionName}:`));
      const byName = Object.fromEntries(clients.map((l) => [/ name=(\S+)/.exec(l)?.[1], / cmd=(\S+)/.exec(l)?.[1]]));
      expect(Object.keys(byName).toSorted()).toEqual(["cmd0", "cmd1", "cmd2", "sub"].map((r) => `${connectionName}:${r}`));
      for (const role of ["cmd0", "cmd1", "cmd2"]) expect(byName[`${connectionName}:${role}`]).toBe("get");
    } finally {
      await cache.close();
    }
  });

  test("scripts run by EVALSHA and are loaded again after SCRIPT FLUSH", async () => {
    const cache = redis({ url, keyPrefix: runPrefix, poolSize: 1 });
    await cache.init(testPluginContext().ctx);
    try {
      expect(await cache.atomic(TAKE_SCRIPT, ["flush:bucket"], [5, 60_000])).toEqual([1, 4]);
      const sha = new Bun.CryptoHasher("sha1").update(TAKE_SCRIPT.lua).digest("hex");
      expect(await raw.script("EXISTS", sha)).toEqual([1]);
      await raw.script("FLUSH");
      expect(await cache.atomic(TAKE_SCRIPT, ["flush:bucket"], [5, 60_000])).toEqual([1, 3]);
      expect(await raw.script("EXISTS", sha)).toEqual([1]);
    } finally {
      await cache.close();
    }
  });

  test("init against an unreachable Redis fails fast with a clear error", async () => {
    const port = await freePort();
    const cache = redis({ url: `redis://:secret@127.0.0.1:${port}`, poolSize: 2 });
    const started = Date.now();
    const err = await cache.init(testPluginContext().ctx).then(() => undefined, (e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).unavailable).toBe(true);
    expect((err as Error).message).toContain("[cache-redis]");
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect((err as Error).message).toContain("ECONNREFUSED");
    expect((err as Error).message).not.toContain("secret");
    await cache.close();
    await cache.close();
  });

  test("a Redis that stops answering: commands give up after commandTimeoutMs", async () => {
    const service = await startRedis();
    const { ctx } = testPluginContext();
    const cache = redis({ url: service.url, keyPrefix: "hang:", poolSize: 1, commandTimeoutMs: 200 });
    const admin = new Redis(service.url);
    try {
      await cache.init(ctx);
      await cache.set("k", "v", 60);
      await admin.client("PAUSE", 1000, "ALL");
      const started = Date.now();
      expect(await cache.get("k")).toBeNull();
      expect(Date.now() - started).toBeLessThan(600);
      const err = await cache.incr("n", 1, 60).then(() => undefined, (e: unknown) => e);
      expect((err as PluginError).unavailable).toBe(true);
      await eventually(
        async () => (await cache.get("k")) === "v",
        { timeoutMs: 3000, what: "answers after the pause" },
      );
    } finally {
      admin.disconnect();
      await cache.close();
      await service.stop();
    }
  });

  test("Redis killed mid-test: reads miss, writes drop, counters refuse, all fast; then it comes back", async () => {
    const service = await startRedis();
    const { ctx, logs } = testPluginContext();
    const cache = redis({ url: service.url, keyPrefix: "outage:", poolSize: 2 });
    try {
      await cache.init(ctx);
      const early: string[] = [];
      await cache.subscribe("signals", (m) => early.push(m));
      await cache.set("k", "v", 60);
      expect(await cache.get("k")).toBe("v");

      await service.kill();
      const timed = async <T>(run: () => Promise<T>): Promise<T> => {
        const started = Date.now();
        const result = await run();
        expect(Date.now() - started).toBeLessThan(1000);
        return result;
      };
      for (let i = 0; i < 20; i++) expect(await timed(() => cache.get("k"))).toBeNull();
      await timed(() => cache.set("k", "dropped", 60));
      await timed(() => cache.delete("k"));
      await timed(() => cache.deletePrefix("any:"));
      await timed(() => cache.publish("signals", "lost"));
      const late: string[] = [];
      const stopLate = await timed(() => cache.subscribe("late", (m) => late.push(m)));
      for (const refused of [() => cache.incr("n", 1, 60), () => cache.atomic(TAKE_SCRIPT, ["b"], [1, 1000])]) {
        const err = await timed(() => refused().then(() => undefined, (e: unknown) => e));
        expect(err).toBeInstanceOf(PluginError);
        expect((err as PluginError).unavailable).toBe(true);
      }
      expect(((await cache.health().catch((e: unknown) => e)) as PluginError).unavailable).toBe(true);

      const counts = Object.fromEntries(
        (await (ctx.metrics.getSingleMetric(DEGRADED_METRIC) as Counter).get()).values.map((v) => [v.labels.operation, v.value]),
      );
      expect(counts).toMatchObject({ set: 1, delete: 1, deletePrefix: 1, publish: 1, subscribe: 1, incr: 1, atomic: 1 });
      expect(counts.get).toBeGreaterThanOrEqual(20);
      expect(logs.filter((l) => l.level === "warn")).toHaveLength(1);

      await service.start();
      await eventually(async () => {
        await cache.set("k", "back", 60);
        return (await cache.get("k")) === "back";
      }, { timeoutMs: 8000, what: "the cache to work again" });
      expect(await cache.incr("n", 1, 60)).toBe(1);
      await cache.health();
      await eventually(async () => {
        await cache.publish("signals", "again");
        await cache.publish("late", "first");
        return early.includes("again") && late.includes("first");
      }, { timeoutMs: 8000, what: "both subscriptions to deliver again" });
      expect(early).not.toContain("lost");
      expect(logs.some((l) => l.level === "info" && String(l.msg).includes("reachable again"))).toBe(true);
      expect(logs.filter((l) => l.level === "warn")).toHaveLength(1);
      stopLate();
    } finally {
      await cache.close();
      await service.stop();
    }
  });
});
