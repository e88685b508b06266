import { expect, test } from "bun:test";
import { runLoad, summarize } from "./load";

test("summarize takes nearest-rank percentiles", () => {
  const sample = Array.from({ length: 100 }, (_, i) => 100 - i);
  expect(summarize(sample)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
});

test("runLoad stops at the request cap, keeps concurrency, and counts failures apart", async () => {
  let inFlight = 0;
  let peak = 0;
  const result = await runLoad({
    concurrency: 4,
    maxRequests: 40,
    maxMs: 5000,
    async send(i) {
      peak = Math.max(peak, ++inFlight);
      await Bun.sleep(1);
      inFlight--;
      if (i % 10 === 0) throw new Error(`failed ${i}`);
    },
  });
  expect(result.requests + result.errors).toBe(40);
  expect(result.errors).toBe(4);
  expect(result.firstError).toBe("failed 0");
  expect(peak).toBe(4);
});

test("runLoad stops at the time limit", async () => {
  const result = await runLoad({ concurrency: 2, maxRequests: 1_000_000, maxMs: 100, send: () => Bun.sleep(5) });
  expect(result.seconds).toBeLessThan(1);
  expect(result.requests).toBeLessThan(100);
});
