import { describe, expect, test } from "bun:test";
import { fromEnv } from "@/config/env";
import { resolveConfig } from "@/config/resolve";
import { isIpOrRange, normalizeIp } from "./client-ip";
import { DEFAULT_RULES } from "./rules";

describe("rateLimit config", () => {
  test("defaults: the guide's tiers, the reference's per-route table, local proxies trusted, no bypass", () => {
    const { rateLimit } = resolveConfig({});
    expect(rateLimit).toMatchObject({ enabled: true, distributed: false, authenticated: 6000, unauthenticated: 600, admin: 60000 });
    expect(rateLimit.tierAlgorithm).toBe("fixed-window");
    expect(rateLimit.rules["create-session"]).toEqual({
      key: "identifier-ip",
      limits: [
        { limit: 30, windowMs: 300_000, algorithm: "sliding-log" },
        { limit: 300, windowMs: 86_400_000, algorithm: "sliding-log" },
      ],
    });
    expect(rateLimit.rules["repo-write"]!.limits.map((l) => [l.limit, l.windowMs])).toEqual([[5000, 3_600_000], [35_000, 86_400_000]]);
    expect(rateLimit.routes["com.atproto.repo.createRecord"]).toEqual([{ rule: "repo-write", points: 3 }]);
    expect(rateLimit.routes["com.atproto.repo.putRecord"]).toEqual([{ rule: "repo-write", points: 2 }]);
    expect(rateLimit.routes["com.atproto.repo.deleteRecord"]).toEqual([{ rule: "repo-write", points: 1 }]);
    expect(rateLimit.rules["login-failures"]).toEqual({ key: "ip", limits: [{ limit: 30, windowMs: 300_000, algorithm: "token-bucket" }] });
    expect(rateLimit.trustedProxies).toContain("127.0.0.0/8");
    expect(rateLimit.bypassKey).toBeUndefined();
    expect(rateLimit.bypassIps).toEqual([]);
  });

  test("aurora.config.ts replaces rules by name and routes by NSID, and may add both", () => {
    const { rateLimit } = resolveConfig({
      rateLimit: {
        tierAlgorithm: "token-bucket",
        rules: {
          "create-session": { key: "ip", limits: [{ limit: 5, windowMs: 60_000 }] },
          "search": { key: "did", limits: [{ limit: 100, windowMs: 60_000, algorithm: "sliding-log" }] },
        },
        routes: { "com.atproto.repo.uploadBlob": [], "app.example.search": [{ rule: "search", points: 2 }] },
      },
    });
    expect(rateLimit.tierAlgorithm).toBe("token-bucket");
    expect(rateLimit.rules["create-session"]).toEqual({ key: "ip", limits: [{ limit: 5, windowMs: 60_000, algorithm: "fixed-window" }] });
    expect(rateLimit.rules["repo-write"]).toEqual(DEFAULT_RULES["repo-write"]!);
    expect(rateLimit.routes["com.atproto.repo.uploadBlob"]).toEqual([]);
    expect(rateLimit.routes["app.example.search"]).toEqual([{ rule: "search", points: 2 }]);
    expect(rateLimit.routes["com.atproto.server.createSession"]).toEqual([{ rule: "create-session", points: 1 }]);
  });

  test.each([
    [{ routes: { "com.atproto.server.createSession": [{ rule: "nope" }] } }, 'unknown rule "nope"'],
    [{ trustedProxies: ["10.0.0.0/33"] }, 'rateLimit.trustedProxies: expected IP addresses or CIDR ranges, got "10.0.0.0/33"'],
    [{ bypassIps: ["localhost"] }, 'rateLimit.bypassIps: expected IP addresses or CIDR ranges, got "localhost"'],
    [{ tierAlgorithm: "leaky-bucket" }, "rateLimit.tierAlgorithm: Expected one of fixed-window, token-bucket, sliding-log"],
    [{ rules: { x: { key: "ip", limits: [] } } }, "rateLimit.rules.x.limits"],
    [{ bypassKey: "short" }, "rateLimit.bypassKey"],
    [
      { rules: { "login-failures": { key: "ip", limits: [{ limit: 5, windowMs: 60_000, algorithm: "sliding-log" }] } } },
      "rateLimit.rules.login-failures: the sliding-log algorithm cannot refund points",
    ],
  ])("refuses %j", (rateLimit, message) => {
    expect(() => resolveConfig({ rateLimit })).toThrow(message);
  });

  test("PDS_RATE_LIMIT_BYPASS_KEY and PDS_RATE_LIMIT_BYPASS_IPS come from the environment", () => {
    const user = fromEnv({ PDS_RATE_LIMIT_BYPASS_KEY: "operator-bypass-key-123", PDS_RATE_LIMIT_BYPASS_IPS: "10.1.2.3, 192.0.2.0/24" });
    expect(user.rateLimit).toEqual({ bypassKey: "operator-bypass-key-123", bypassIps: ["10.1.2.3", "192.0.2.0/24"] });
    expect(resolveConfig(user).rateLimit.bypassIps).toEqual(["10.1.2.3", "192.0.2.0/24"]);
  });
});

describe("IP parsing", () => {
  test.each([
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["[2001:DB8::1]", "2001:db8::1"],
    ["fe80::1%eth0", "fe80::1"],
    [" 192.0.2.1 ", "192.0.2.1"],
    ["192.0.2.1:443", null],
    ["unknown", null],
  ])("normalizeIp(%j) = %j", (raw, ip) => {
    expect(normalizeIp(raw)).toBe(ip);
  });

  test.each([
    ["10.0.0.0/8", true],
    ["::1", true],
    ["fc00::/7", true],
    ["10.0.0.1/32", true],
    ["10.0.0.1/", false],
    ["fc00::/129", false],
    ["10.0.0.0/8/1", false],
    ["example.com", false],
  ])("isIpOrRange(%j) = %j", (entry, ok) => {
    expect(isIpOrRange(entry)).toBe(ok);
  });
});
