import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { type RunConfig, resolveConfig } from "@/config/resolve";
import { createLogger } from "@/log";
import { memory } from "@/cache/memory";
import { RateLimitedError } from "./headers";
import { createRateLimits } from "./limiter";

test("refund gives spent points back without counting a request in the metrics", async () => {
  const config = resolveConfig({
    secrets: { jwtSecret: "test-jwt-secret-0123456789", adminPassword: "x".repeat(12), plcRotationKeyHex: "a".repeat(64) },
    rateLimit: { rules: { "login-failures": { key: "ip", limits: [{ limit: 2, windowMs: 60_000, algorithm: "token-bucket" }] } } },
  }) as RunConfig;
  const registry = new Registry();
  const limits = await createRateLimits({ config, cache: memory(), log: createLogger("error"), registry });
  try {
    await limits.consumePoints("login-failures", "192.0.2.1", 1);
    await limits.refund("login-failures", "192.0.2.1", 1);
    await limits.consumePoints("login-failures", "192.0.2.1", 1);
    await limits.consumePoints("login-failures", "192.0.2.1", 1);
    // Two left after the refund, both spent now: the next one is refused.
    await expect(limits.consumePoints("login-failures", "192.0.2.1", 1)).rejects.toBeInstanceOf(RateLimitedError);
    const counted = (await registry.getSingleMetric("aurora_rate_limit_requests_total")!.get()).values;
    expect(counted.reduce((n, v) => n + v.value, 0)).toBe(4);
  } finally {
    await limits.close();
  }
});
