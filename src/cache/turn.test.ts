import { expect, test } from "bun:test";
import { memory } from "./memory";
import { takeTurn } from "./turn";

test("one caller per interval gets the turn, even when many ask at once", async () => {
  const cache = memory();
  const turns = await Promise.all(Array.from({ length: 20 }, () => takeTurn(cache, "sweep", 1)));
  expect(turns.filter(Boolean)).toHaveLength(1);
  await Bun.sleep(1100);
  expect(await takeTurn(cache, "sweep", 1)).toBe(true);
  expect(await takeTurn(cache, "other-job", 1)).toBe(true);
});

test("a cache that cannot answer gives the turn (the jobs are idempotent)", async () => {
  const cache = memory();
  await cache.close();
  const broken = { ...cache, incr: async () => Promise.reject(new Error("down")) };
  expect(await takeTurn(broken, "sweep", 60)).toBe(true);
});
