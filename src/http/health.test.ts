import { afterAll, afterEach, beforeAll, describe, expect, setSystemTime, spyOn, test } from "bun:test";
import { PluginError } from "@/errors";
import { type TestContext, testContext } from "@test/support/context";
import { READINESS_CACHE_MS } from "./health";

describe("/health/ready is cheap", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await testContext({ log: { level: "error" } });
  });
  afterAll(() => ctx.close());
  afterEach(() => setSystemTime());

  test("concurrent probes share one check, and an answer is reused for READINESS_CACHE_MS", async () => {
    const health = spyOn(ctx.blobs, "health");
    try {
      const statuses = await Promise.all(Array.from({ length: 20 }, () => ctx.request("/health/ready").then((r) => r.status)));
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(health).toHaveBeenCalledTimes(1);
      expect((await ctx.request("/health/ready")).status).toBe(200);
      expect(health).toHaveBeenCalledTimes(1);
      setSystemTime(new Date(Date.now() + READINESS_CACHE_MS + 1));
      expect((await ctx.request("/health/ready")).status).toBe(200);
      expect(health).toHaveBeenCalledTimes(2);
    } finally {
      health.mockRestore();
    }
  });

  test("a failed check is reused too: a backend that is down is not asked again by every probe", async () => {
    setSystemTime(new Date(Date.now() + 10 * READINESS_CACHE_MS));
    const health = spyOn(ctx.blobs, "health").mockRejectedValue(new PluginError(ctx.blobs.name, "down", { unavailable: true }));
    try {
      for (let i = 0; i < 5; i++) {
        const res = await ctx.request("/health/ready");
        expect(res.status).toBe(503);
        expect(((await res.json()) as { checks: Record<string, string> }).checks[ctx.blobs.name]).toBe("unavailable");
      }
      expect(health).toHaveBeenCalledTimes(1);
    } finally {
      health.mockRestore();
    }
    setSystemTime(new Date(Date.now() + 20 * READINESS_CACHE_MS));
    expect((await ctx.request("/health/ready")).status).toBe(200);
  });
});
