/**
 * The one conformance suite for cache backends. Each plugin's test file calls
 * `cacheConformance(label, make)` with a factory for fresh, un-initialised
 * instances that share one backend (for Redis: one URL and one key prefix
 * unique to the test run).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { Registry } from "prom-client";
import type { CachePlugin, CacheScript } from "@/contracts/cache";
import type { PluginContext } from "@/contracts/plugin";
import { PluginError } from "@/errors";
import { createLogger, type LogLevel } from "@/log";
import { eventually } from "@test/support/eventually";

/** A PluginContext whose log lines are kept, parsed, in `logs`. */
export function testPluginContext(level: LogLevel = "debug"): { ctx: PluginContext; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const log = createLogger(level, (line) => logs.push(JSON.parse(line)));
  return { ctx: { dataDir: tmpdir(), log, metrics: new Registry() }, logs };
}

/** Takes one of ARGV[1] tokens from KEYS[1]; returns [taken 0|1, tokens left]. */
export const TAKE_SCRIPT: CacheScript<[number, number]> = {
  name: "test:take",
  lua: `local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
if used >= limit then return {0, 0} end
redis.call('SET', KEYS[1], used + 1, 'PX', ARGV[2])
return {1, limit - used - 1}`,
  local(store, keys, args) {
    const key = keys[0] as string;
    const used = Number(store.get(key) ?? "0");
    const limit = Number(args[0]);
    if (used >= limit) return [0, 0];
    store.set(key, String(used + 1), Number(args[1]));
    return [1, limit - used - 1];
  },
};

/** Replaces KEYS[1] with ARGV[1]; returns the old value or null (Lua false/nil → null). */
const SWAP_SCRIPT: CacheScript<string | null> = {
  name: "test:swap",
  lua: `local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return old`,
  local(store, keys, args) {
    const old = store.get(keys[0] as string);
    store.set(keys[0] as string, args[0] as string, Number(args[1]));
    return (old as string | null) ?? null;
  },
};

const FAIL_SCRIPT: CacheScript<never> = {
  name: "test:fail",
  lua: "return redis.error_reply('refused on purpose')",
  local() {
    throw new Error("refused on purpose");
  },
};

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PluginError);
  return err as PluginError;
}

export function cacheConformance(label: string, make: () => CachePlugin): void {
  describe(`cache conformance: ${label}`, () => {
    let cache: CachePlugin;
    beforeAll(async () => {
      cache = make();
      await cache.init(testPluginContext("warn").ctx);
    });
    afterAll(() => cache?.close());

    test("is a cache plugin with a lifecycle", async () => {
      expect(cache.kind).toBe("cache");
      expect(cache.name).toMatch(/^cache-/);
      await cache.health();
      expect(typeof cache.describe()).toBe("object");
      const spare = make();
      await spare.init(testPluginContext("warn").ctx);
      await spare.close();
      await spare.close();
    });

    test("get/set/delete round-trip; a missing key is null", async () => {
      expect(await cache.get("rt:missing")).toBeNull();
      await cache.set("rt:a", "héllo ✓", 60);
      await cache.set("rt:empty", "", 60);
      expect(await cache.get("rt:a")).toBe("héllo ✓");
      expect(await cache.get("rt:empty")).toBe("");
      await cache.set("rt:a", "second", 60);
      expect(await cache.get("rt:a")).toBe("second");
      await cache.delete("rt:a");
      await cache.delete("rt:never-there");
      expect(await cache.get("rt:a")).toBeNull();
    });

    test("entries expire after their TTL; incr sets its TTL only on create", async () => {
      await cache.set("ttl:short", "x", 1);
      await cache.set("ttl:fraction", "x", 0.3);
      await cache.set("ttl:long", "y", 30);
      expect(await cache.incr("ttl:counter", 1, 1)).toBe(1);
      await Bun.sleep(500);
      expect(await cache.get("ttl:fraction")).toBeNull();
      expect(await cache.get("ttl:short")).toBe("x");
      expect(await cache.incr("ttl:counter", 1, 1)).toBe(2);
      await Bun.sleep(700);
      expect(await cache.get("ttl:short")).toBeNull();
      expect(await cache.get("ttl:long")).toBe("y");
      expect(await cache.get("ttl:counter")).toBeNull();
      expect(await cache.incr("ttl:counter", 1, 1)).toBe(1);
    });

    test("deletePrefix removes that prefix only, taking glob characters literally", async () => {
      const keep = ["dp:ab:1", "dp:b:a:1", "dp:x:1", "dp:xa*:1", "dp:x?:1"];
      const gone = ["dp:a:1", "dp:a:2", "dp:a:b:3", "dp:x*:1", "dp:x*:2"];
      await Promise.all([...keep, ...gone].map((k) => cache.set(k, k, 60)));
      const bulk = Array.from({ length: 1200 }, (_, i) => `dp:bulk:${i}`);
      await Promise.all(bulk.map((k) => cache.set(k, "v", 60)));
      await cache.deletePrefix("dp:a:");
      await cache.deletePrefix("dp:x*:");
      await cache.deletePrefix("dp:bulk:");
      await cache.deletePrefix("dp:nothing-here:");
      for (const k of keep) expect(await cache.get(k)).toBe(k);
      for (const k of gone) expect(await cache.get(k)).toBeNull();
      const left = await Promise.all(bulk.map((k) => cache.get(k)));
      expect(left.filter((v) => v !== null)).toEqual([]);
    });

    test("incr is atomic under 200 concurrent calls", async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => cache.incr("incr:hits", 1, 60)));
      expect(results.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(await cache.get("incr:hits")).toBe("200");
      expect(await cache.incr("incr:step", 5, 60)).toBe(5);
      expect(await cache.incr("incr:step", -7, 60)).toBe(-2);
      await cache.set("incr:text", "not a number", 60);
      expect((await rejection(cache.incr("incr:text", 1, 60))).unavailable).toBe(false);
    });

    test("an atomic script lets exactly L of M concurrent callers through", async () => {
      const calls = Array.from({ length: 60 }, () => cache.atomic(TAKE_SCRIPT, ["script:bucket"], [17, 60_000]));
      const results = await Promise.all(calls);
      expect(results.filter(([taken]) => taken === 1)).toHaveLength(17);
      expect(results.map(([, left]) => left).toSorted((a, b) => a - b).slice(-17)).toEqual(
        Array.from({ length: 17 }, (_, i) => i),
      );
      expect(await cache.atomic(SWAP_SCRIPT, ["script:swap"], ["one", 60_000])).toBeNull();
      expect(await cache.atomic(SWAP_SCRIPT, ["script:swap"], ["two", 60_000])).toBe("one");
      expect(await cache.get("script:swap")).toBe("two");
      const failed = await rejection(cache.atomic(FAIL_SCRIPT, ["script:x"], []));
      expect(failed.unavailable).toBe(false);
      expect(failed.message).toContain("refused on purpose");
    });

    test("pub/sub reaches every subscriber; unsubscribe stops delivery", async () => {
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      const stopA = await cache.subscribe("ps:news", (m) => a.push(m));
      const stopB = await cache.subscribe("ps:news", (m) => b.push(m));
      const stopOther = await cache.subscribe("ps:other", (m) => other.push(m));
      await cache.publish("ps:news", "m1");
      await eventually(() => a.length === 1 && b.length === 1, { what: "m1 at both subscribers" });
      stopA();
      stopA();
      await cache.publish("ps:news", "m2");
      await cache.publish("ps:news", "m3");
      await eventually(() => b.length === 3, { what: "m2 and m3 at the remaining subscriber" });
      await cache.publish("ps:other", "o1");
      await eventually(() => other.length === 1, { what: "o1" });
      expect(a).toEqual(["m1"]);
      expect(b).toEqual(["m1", "m2", "m3"]);
      expect(other).toEqual(["o1"]);
      stopB();
      stopOther();
      await cache.publish("ps:nobody", "into the void");
    });

    test("`shared` says whether a second instance sees entries and messages", async () => {
      const second = make();
      await second.init(testPluginContext("warn").ctx);
      try {
        await cache.set("shared:k", "from first", 60);
        expect(await second.get("shared:k")).toBe(cache.shared ? "from first" : null);
        const mine: string[] = [];
        const theirs: string[] = [];
        const stopMine = await cache.subscribe("shared:ch", (m) => mine.push(m));
        const stopTheirs = await second.subscribe("shared:ch", (m) => theirs.push(m));
        await second.publish("shared:ch", "hello");
        await eventually(() => theirs.length === 1, { what: "the publisher's own subscriber" });
        if (cache.shared) await eventually(() => mine.length === 1, { what: "the other instance's subscriber" });
        expect(mine).toEqual(cache.shared ? ["hello"] : []);
        stopMine();
        stopTheirs();
      } finally {
        await second.close();
      }
    });

    test("caller mistakes are logic errors, not outages", async () => {
      for (const attempt of [
        () => cache.set("bad:ttl", "v", 0),
        () => cache.set("bad:ttl", "v", Number.NaN),
        () => cache.deletePrefix(""),
        () => cache.incr("bad:incr", 1.5, 60),
      ]) {
        expect((await rejection(attempt())).unavailable).toBe(false);
      }
    });
  });
}
