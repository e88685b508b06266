import { describe, expect, test } from "bun:test";
import type { CacheScript } from "@/contracts/cache";
import { cacheConformance, testPluginContext } from "@test/conformance/cache";
import { memory } from "./memory";

cacheConformance("memory", () => memory());

describe("memory cache", () => {
  test("evicts the least recently used entry beyond maxEntries", async () => {
    const cache = memory({ maxEntries: 3 });
    await cache.init(testPluginContext().ctx);
    for (const k of ["a", "b", "c"]) await cache.set(k, k, 60);
    expect(await cache.get("a")).toBe("a");
    await cache.set("d", "d", 60);
    expect(await cache.get("b")).toBeNull();
    expect(await Promise.all(["a", "c", "d"].map((k) => cache.get(k)))).toEqual(["a", "c", "d"]);
  });

  test("evicts by bytes, and never stores a value larger than maxBytes", async () => {
    // "k1" + 20 chars = 22 UTF-16 units = 44 bytes: two fit in 100, a third evicts the oldest.
    const cache = memory({ maxBytes: 100 });
    await cache.init(testPluginContext().ctx);
    await cache.set("k1", "x".repeat(20), 60);
    await cache.set("k2", "y".repeat(20), 60);
    expect(await cache.get("k1")).not.toBeNull();
    await cache.set("k3", "z".repeat(20), 60);
    expect(await cache.get("k2")).toBeNull();
    expect(await cache.get("k1")).toBe("x".repeat(20));
    expect(await cache.get("k3")).toBe("z".repeat(20));
    await cache.set("huge", "h".repeat(60), 60);
    expect(await cache.get("huge")).toBeNull();
    expect(await cache.get("k3")).toBe("z".repeat(20));
  });

  test("script state may be a number array, counted in bytes and unreadable with get", async () => {
    const log: CacheScript<number> = {
      name: "test:log",
      lua: "",
      local(store, keys) {
        const times = (store.get(keys[0] as string) as number[] | null) ?? [];
        times.push(store.now());
        store.set(keys[0] as string, times, 60_000);
        return times.length;
      },
    };
    // Each number is 8 bytes: the 13th push makes the array (2 + 13 x 8 = 106 bytes) too big to keep.
    const cache = memory({ maxBytes: 100 });
    await cache.init(testPluginContext().ctx);
    for (let i = 1; i <= 12; i++) expect(await cache.atomic(log, ["l"], [])).toBe(i);
    expect((await cache.get("l").catch((e: Error) => e)) as Error).toBeInstanceOf(Error);
    expect(await cache.atomic(log, ["l"], [])).toBe(13);
    expect(await cache.atomic(log, ["l"], [])).toBe(1);
  });

  test("delivers messages asynchronously, never inside publish(); a throwing handler is logged", async () => {
    const { ctx, logs } = testPluginContext();
    const cache = memory();
    await cache.init(ctx);
    const got: string[] = [];
    await cache.subscribe("c", () => {
      throw new Error("handler broke");
    });
    await cache.subscribe("c", (m) => got.push(m));
    const published = cache.publish("c", "m");
    expect(got).toEqual([]);
    await published;
    await Bun.sleep(0);
    expect(got).toEqual(["m"]);
    expect(logs.some((l) => l.level === "error" && l.msg === "cache subscriber failed")).toBe(true);
  });
});
