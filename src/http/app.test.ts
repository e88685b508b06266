import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lexicons } from "@atproto/api/dist/client/lexicons";
import { redis } from "@plugins/cache-redis";
import { VERSION } from "@/version";
import { READINESS_CACHE_MS } from "./health";
import { type TestContext, testContext } from "@test/support/context";
import { startRedis } from "@test/support/services";
import { eventually } from "@test/support/eventually";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext({
    service: {
      hostname: "localhost",
      port: 2999,
      inviteRequired: false,
      contactEmail: "ops@example.com",
      privacyPolicyUrl: "https://example.com/privacy",
      termsOfServiceUrl: "https://example.com/tos",
    },
  });
});
afterAll(() => ctx.close());

describe("plain routes", () => {
  test("GET /xrpc/_health answers the version", async () => {
    const res = await ctx.request("/xrpc/_health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: VERSION });
  });

  test("GET /health/live is 200 and /health/ready lists every backend", async () => {
    expect((await ctx.request("/health/live")).status).toBe(200);
    const ready = await ctx.request("/health/ready");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ok",
      checks: { "db-sqlite": "ok", "storage-disk": "ok", "cache-memory": "ok" },
    });
  });

  test("GET / is a text banner and /robots.txt allows crawling", async () => {
    const banner = await ctx.request("/");
    expect(banner.headers.get("content-type")).toStartWith("text/plain");
    expect(await banner.text()).toContain("AT Protocol Personal Data Server");
    const robots = await ctx.request("/robots.txt");
    expect(await robots.text()).toContain("User-agent: *");
  });

  test("an unknown non-XRPC path is a JSON 404", async () => {
    const res = await ctx.request("/no/such/page");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe("NotFound");
  });
});

describe("com.atproto.server.describeServer", () => {
  test("describes the server from its config, every field of the lexicon, valid by it", async () => {
    const res = await ctx.request("/xrpc/com.atproto.server.describeServer");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(() => lexicons.assertValidXrpcOutput("com.atproto.server.describeServer", body)).not.toThrow();
    expect(body).toEqual({
      did: "did:web:localhost",
      availableUserDomains: [".test"],
      inviteCodeRequired: false,
      phoneVerificationRequired: false,
      blobUploadLimit: 104857600,
      links: { privacyPolicy: "https://example.com/privacy", termsOfService: "https://example.com/tos" },
      contact: { email: "ops@example.com" },
    });
  });
});

describe("observability", () => {
  test("metrics are labelled by NSID or route template, never by raw URL", async () => {
    await ctx.request("/xrpc/com.atproto.server.describeServer?cacheBust=123");
    await ctx.request("/xrpc/com.example.unknownMethod?x=1");
    await ctx.request("/some/random/path/42");
    const text = await (await ctx.request("/metrics")).text();
    expect(text).toContain('aurora_http_requests_total{method="GET",route="com.atproto.server.describeServer",status="200"}');
    expect(text).toContain('aurora_http_requests_total{method="GET",route="/xrpc/*",status="501"}');
    expect(text).toContain('aurora_http_requests_total{method="GET",route="unmatched",status="404"}');
    expect(text).toContain("aurora_http_request_duration_seconds_bucket{");
    expect(text).not.toContain("cacheBust");
    expect(text).not.toContain("unknownMethod");
    expect(text).not.toContain("/some/random");
  });

  test("one JSON log line per request with method, route, status, ms and request id", async () => {
    const res = await ctx.request("/xrpc/_health", { headers: { "x-request-id": "probe-17" } });
    expect(res.headers.get("x-request-id")).toBe("probe-17");
    const line = ctx.logs.findLast((l) => l.msg === "request");
    expect(line).toMatchObject({ level: "info", method: "GET", route: "/xrpc/_health", status: 200, reqId: "probe-17" });
    expect(line?.ms).toBeNumber();
  });

  test("a hostile request id is replaced, not echoed", async () => {
    const res = await ctx.request("/xrpc/_health", { headers: { "x-request-id": "bad id\twith spaces" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("readiness with a real backend outage", () => {
  test("/health/ready is 503 naming the failing backend, and 200 again after it returns", async () => {
    const service = await startRedis();
    const withRedis = await testContext({ cache: redis({ url: service.url, keyPrefix: "ready-test:" }) });
    try {
      expect((await withRedis.request("/health/ready")).status).toBe(200);
      await service.kill();
      // Readiness answers are reused for READINESS_CACHE_MS: wait out the one from before the outage.
      await Bun.sleep(READINESS_CACHE_MS + 50);
      const down = await withRedis.request("/health/ready");
      expect(down.status).toBe(503);
      const report = (await down.json()) as { status: string; checks: Record<string, string> };
      expect(report.status).toBe("unavailable");
      expect(report.checks["cache-redis"]).toBe("unavailable");
      expect(JSON.stringify(report)).not.toContain(String(service.port));
      expect(withRedis.logs.some((l) => l.msg === "readiness check failed" && l.plugin === "cache-redis")).toBe(true);
      expect(report.checks["db-sqlite"]).toBe("ok");
      await service.start();
      await eventually(async () => (await withRedis.request("/health/ready")).status === 200, { timeoutMs: 10_000, intervalMs: 100, what: "ready again" });
    } finally {
      await withRedis.close();
      await service.stop();
    }
  });
});
