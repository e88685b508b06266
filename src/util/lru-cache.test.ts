import { expect, test } from "bun:test";
import { LruCache } from "./lru-cache";

const sized = (maxEntries: number, maxBytes = 1_000_000) => new LruCache<string>(maxEntries, maxBytes, (v) => v.length);

test("bounded in count: the entry not read since it was stored goes first, a read one gets a second chance", () => {
  const cache = sized(3);
  cache.set("a", "1");
  cache.set("b", "2");
  cache.set("c", "3");
  expect(cache.get("a")).toBe("1");
  cache.set("d", "4");
  // "a" was read, so "b" (the oldest unread) is dropped and "a" moves to the young end.
  expect([cache.get("a"), cache.get("b"), cache.get("c"), cache.get("d")]).toEqual(["1", undefined, "3", "4"]);
  expect(cache.size).toBe(3);
});

test("when every entry was read, the oldest goes after one pass clears the marks", () => {
  const cache = sized(2);
  cache.set("a", "1");
  cache.set("b", "2");
  cache.get("a");
  cache.get("b");
  cache.set("c", "3");
  expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([undefined, "2", "3"]);
});

test("bounded in weight: replacing a value re-weighs it, and a value over the bound on its own is not kept", () => {
  const cache = sized(100, 10);
  cache.set("a", "xxxx");
  cache.set("b", "yyyy");
  expect(cache.byteSize).toBe(8);
  cache.set("a", "z");
  expect(cache.byteSize).toBe(5);
  cache.set("c", "wwwwww");
  // 11 > 10: the oldest unread entry ("b") goes.
  expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual(["z", undefined, "wwwwww"]);
  expect(cache.byteSize).toBe(7);
  cache.set("huge", "h".repeat(11));
  expect(cache.get("huge")).toBeUndefined();
  expect(cache.byteSize).toBeLessThanOrEqual(10);
});

/** The same policy over a plain array, oldest first: what LruCache must keep, step by step. */
class ArrayClock {
  items: { key: string; value: string; used: boolean }[] = [];
  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}
  bytes = () => this.items.reduce((n, i) => n + i.value.length, 0);
  get(key: string) {
    const item = this.items.find((i) => i.key === key);
    if (item) item.used = true;
    return item?.value;
  }
  delete(key: string) {
    this.items = this.items.filter((i) => i.key !== key);
  }
  set(key: string, value: string) {
    this.delete(key);
    const item = { key, value, used: false };
    this.items.push(item);
    while (this.items.length > this.maxEntries || this.bytes() > this.maxBytes) {
      const oldest = this.items.shift()!;
      if ((oldest.used || oldest === item) && this.items.length > 0) {
        oldest.used = false;
        this.items.push(oldest);
      }
    }
  }
}

test("random sets, reads and deletes keep exactly what the same policy over an array keeps", () => {
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (const [maxEntries, maxBytes] of [
    [8, 1_000],
    [50, 120],
    [1, 1_000],
  ] as const) {
    const cache = sized(maxEntries, maxBytes);
    const model = new ArrayClock(maxEntries, maxBytes);
    for (let step = 0; step < 4000; step++) {
      const key = `k${random(40)}`;
      const op = random(10);
      if (op < 5) {
        const value = "v".repeat(1 + random(12));
        cache.set(key, value);
        model.set(key, value);
      } else if (op < 9) {
        expect(cache.get(key)).toBe(model.get(key));
      } else {
        expect(cache.delete(key)).toBe(model.items.some((i) => i.key === key));
        model.delete(key);
      }
      expect(cache.size).toBe(model.items.length);
      expect(cache.byteSize).toBe(model.bytes());
    }
    expect([...cache.keys()].sort()).toEqual(model.items.map((i) => i.key).sort());
    for (const { key, value } of model.items) expect(cache.peek(key)).toBe(value);
    cache.clear();
    expect([cache.size, cache.byteSize, cache.get("k1")]).toEqual([0, 0, undefined]);
  }
});
