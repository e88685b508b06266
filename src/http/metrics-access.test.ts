import { describe, expect, test } from "bun:test";
import { fromEnv } from "@/config/env";
import { printableConfig } from "@/config/printable";
import { REDACTED } from "@/config/redact";
import { resolveConfig } from "@/config/resolve";
import { testContext } from "@test/support/context";
import { createMetricsAccess } from "./metrics-access";

const TOKEN = "scrape-token-0123456789";

function scrape(headers: Record<string, string> = {}): Request {
  return new Request("http://localhost/metrics", { headers });
}

async function outcome(res: Response | null) {
  if (!res) return "allowed";
  return { status: res.status, challenge: res.headers.get("www-authenticate"), body: await res.json() };
}

describe("/metrics access", () => {
  test("unrestricted by default", async () => {
    const access = createMetricsAccess(resolveConfig({}).metrics);
    expect(await outcome(access(scrape(), "203.0.113.9"))).toBe("allowed");
  });

  test.each([
    ["no Authorization", {}, 401],
    ["another scheme", { authorization: `Basic ${btoa(`x:${TOKEN}`)}` }, 401],
    ["a wrong token", { authorization: "Bearer scrape-token-0123456788" }, 401],
    ["a prefix of the token", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, 401],
    ["the token", { authorization: `Bearer ${TOKEN}` }, 200],
    ["the token, scheme in any case", { authorization: `bearer ${TOKEN}` }, 200],
  ])("with metrics.token: %s", async (_, headers, status) => {
    const access = createMetricsAccess(resolveConfig({ metrics: { token: TOKEN } }).metrics);
    const got = await outcome(access(scrape(headers), "203.0.113.9"));
    if (status === 200) return expect(got).toBe("allowed");
    expect(got).toEqual({
      status: 401,
      challenge: 'Bearer realm="metrics"',
      body: { error: "AuthenticationRequired", message: expect.any(String) },
    });
  });

  test.each([
    ["10.1.2.3", true],
    ["192.0.2.77", true],
    ["2001:db8::1", true],
    ["192.0.3.1", false],
    ["unknown", false],
  ])("with metrics.allowIps: %s allowed %p", async (ip, ok) => {
    const access = createMetricsAccess(resolveConfig({ metrics: { allowIps: ["10.1.2.3", "192.0.2.0/24", "2001:db8::/32"] } }).metrics);
    const got = await outcome(access(scrape(), ip));
    expect(got).toEqual(ok ? "allowed" : { status: 403, challenge: null, body: { error: "Forbidden", message: expect.any(String) } });
  });

  test("both set: the address must be allowed and the token right; a wrong address is 403 even with the token", async () => {
    const access = createMetricsAccess(resolveConfig({ metrics: { token: TOKEN, allowIps: ["10.0.0.0/8"] } }).metrics);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(await outcome(access(scrape(auth), "10.9.9.9"))).toBe("allowed");
    expect(((await outcome(access(scrape(), "10.9.9.9"))) as { status: number }).status).toBe(401);
    expect(((await outcome(access(scrape(auth), "192.0.2.1"))) as { status: number }).status).toBe(403);
  });

  test("config: PDS_METRICS_TOKEN / PDS_METRICS_ALLOW_IPS, bad ranges refused, the token never printed", () => {
    const user = fromEnv({ PDS_METRICS_TOKEN: TOKEN, PDS_METRICS_ALLOW_IPS: "10.0.0.0/8, 192.0.2.5" });
    expect(user.metrics).toEqual({ token: TOKEN, allowIps: ["10.0.0.0/8", "192.0.2.5"] });
    const config = resolveConfig(user);
    expect(printableConfig(config).metrics).toEqual({ token: REDACTED, allowIps: ["10.0.0.0/8", "192.0.2.5"] });
    expect(() => resolveConfig({ metrics: { allowIps: ["10.0.0.0/40"] } })).toThrow(
      'config metrics.allowIps: expected IP addresses or CIDR ranges, got "10.0.0.0/40"',
    );
    expect(() => resolveConfig({ metrics: { token: "short" } })).toThrow("metrics.token");
  });

  test("through the server: the client IP is the one rate limiting sees, forwarded by a trusted proxy", async () => {
    const ctx = await testContext({ log: { level: "warn" }, metrics: { token: TOKEN, allowIps: ["192.0.2.0/24"] } });
    try {
      const get = (peer: string, headers: Record<string, string> = {}) => ctx.handle(scrape(headers), peer);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const ok = await get("192.0.2.5", auth);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("aurora_http_requests_total");
      const missing = await get("192.0.2.5");
      expect([missing.status, missing.headers.get("www-authenticate")]).toEqual([401, 'Bearer realm="metrics"']);
      expect(await missing.json()).toEqual({ error: "AuthenticationRequired", message: expect.any(String) });
      expect((await get("198.51.100.1", auth)).status).toBe(403);
      // nginx on loopback (trusted) forwarding an allowed client, and an untrusted peer claiming one.
      expect((await get("127.0.0.1", { ...auth, "x-forwarded-for": "192.0.2.9" })).status).toBe(200);
      expect((await get("198.51.100.1", { ...auth, "x-forwarded-for": "192.0.2.9" })).status).toBe(403);
    } finally {
      await ctx.close();
    }
  });
});
