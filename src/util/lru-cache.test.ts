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
