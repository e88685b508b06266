/**
 * The one request path, through the real server: strict routing (a path is
 * exactly a route or it is not served), rate limits keyed by the matched
 * route, and the firehose upgrade taking the same path (limits, caps, log
 * line, metrics) before any socket opens.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import type { UserConfig } from "@/config/schema";
import { listen } from "@/http/server";
import { FirehoseClient } from "@test/support/firehose";
import { type TestContext, testContext } from "@test/support/context";
import { eventually } from "@test/support/eventually";

const CREATE_SESSION = "/xrpc/com.atproto.server.createSession";
const SUBSCRIBE = "/xrpc/com.atproto.sync.subscribeRepos";
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function server(user: UserConfig = {}) {
  const ctx = await testContext({ log: { level: "info" }, ...user });
  const running = listen(ctx, 0);
  cleanups.push(async () => {
    await running.shutdown();
    await ctx.close();
  });
  return { ctx, port: running.port };
}

/** Send raw bytes on a TCP socket and read the response head (the socket is left open for upgrades). */
function raw(port: number, text: string): Promise<{ status: number; head: string; body: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.on("connect", () => socket.write(text));
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = data.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const body = data.slice(end + 4);
      if (head.startsWith("HTTP/1.1 101") || body.length >= length) {
        resolve({ status: Number(head.split(" ")[1]), head, body, close: () => socket.destroy() });
      }
    });
  });
}
const upgradeRequest = (port: number, query = "", extra = "") =>
  `GET ${SUBSCRIBE}${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

describe("strict routing", () => {
  let ctx: TestContext;
  test("a trailing slash, a prefix or a second segment is not the route: 404, and nothing runs", async () => {
    ctx = await testContext();
    cleanups.push(() => ctx.close());
    const login = (path: string) =>
      ctx.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ identifier: "nobody.test", password: "x" }) });
    for (const path of [`${CREATE_SESSION}/`, `/health${CREATE_SESSION}`, `${CREATE_SESSION}/x`, `/${CREATE_SESSION}`, "/xrpc/", "/xrpc"]) {
      const res = await login(path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(await res.json()).toEqual({ error: "NotFound", message: "Not Found" });
    }
    expect((await login(CREATE_SESSION)).status).toBe(401);
  });

  test("a well-formed NSID nobody serves is 501; a plain route answers GET only (405 otherwise)", async () => {
    const unknown = await ctx.request("/xrpc/io.example.nothing.here");
    expect(unknown.status).toBe(501);
    expect(((await unknown.json()) as { error: string }).error).toBe("MethodNotImplemented");
    const post = await ctx.request("/health/live", { method: "POST" });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: string }).error).toBe("MethodNotAllowed");
  });

  test("route labels in metrics are the matched route, never the raw path", async () => {
    await ctx.request("/some/probe/path-1234");
    const metrics = await (await ctx.request("/metrics")).text();
    expect(metrics).toContain('route="unmatched"');
    expect(metrics).not.toContain("path-1234");
  });
});

describe("/metrics restriction through the server", () => {
  test("with metrics.token a scrape needs the bearer token; with metrics.allowIps other addresses get 403", async () => {
    const token = "metrics-token-0123456789abcdef";
    const ctx = await testContext({ metrics: { token, allowIps: ["192.0.2.0/24"] } });
    cleanups.push(() => ctx.close());
    const scrape = (ip: string, auth?: string) =>
      ctx.handle(new Request("http://localhost/metrics", { headers: auth ? { authorization: auth } : {} }), ip);
    expect((await scrape("192.0.2.9")).status).toBe(401);
    expect((await scrape("192.0.2.9", "Bearer wrong")).status).toBe(401);
    const ok = await scrape("192.0.2.9", `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("aurora_http_requests_total");
    expect((await scrape("198.51.100.1", `Bearer ${token}`)).status).toBe(403);
  });
});

describe("rate limits follow the matched route", () => {
  test("createSession with a trailing slash never runs (404), so it cannot be used to skip the login limit; 30 × 401 then 429", async () => {
    const { ctx } = await server();
    const login = (path: string) =>
      ctx.handle(
        new Request(`http://localhost${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "nobody.test", password: "wrong" }),
        }),
        "198.51.100.7",
      );
    const slashed: number[] = [];
    for (let i = 0; i < 35; i++) slashed.push((await login(`${CREATE_SESSION}/`)).status);
    expect(new Set(slashed)).toEqual(new Set([404]));
    const plain: number[] = [];
    for (let i = 0; i < 31; i++) plain.push((await login(CREATE_SESSION)).status);
    expect(plain.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(plain[30]).toBe(429);
  });

  test("over a real socket, `Host: a` with /health/xrpc/… is 404, not createSession", async () => {
    const { port, ctx } = await server();
    const body = JSON.stringify({ identifier: "nobody.test", password: "wrong" });
    const res = await raw(
      port,
      `POST /health${CREATE_SESSION} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    res.close();
    expect(res.status).toBe(404);
    expect(ctx.logs.some((l) => l.msg === "request" && l.route === "com.atproto.server.createSession")).toBe(false);
  });
});

describe("the firehose upgrade takes the request path", () => {
  test("a bad cursor is a 400 from the shared error mapper, before any upgrade; a plain GET is 426", async () => {
    const { port } = await server();
    const bad = await raw(port, upgradeRequest(port, "?cursor=-3", "Connection: close\r\n"));
    bad.close();
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toBe("InvalidRequest");
    const plain = await fetch(`http://127.0.0.1:${port}${SUBSCRIBE}`);
    expect(plain.status).toBe(426);
  });

  test("per-IP and per-node caps refuse cleanly before the upgrade (429, 503), and a freed slot is reusable", async () => {
    const { port, ctx } = await server({
      firehose: { maxSubscribersPerIp: 2, maxSubscribers: 3 },
      rateLimit: { trustedProxies: ["127.0.0.1"] },
    });
    const from = (ip: string) => `X-Forwarded-For: ${ip}\r\n`;
    const a1 = await raw(port, upgradeRequest(port, "", from("192.0.2.1")));
    const a2 = await raw(port, upgradeRequest(port, "", from("192.0.2.1")));
    expect([a1.status, a2.status]).toEqual([101, 101]);
    const a3 = await raw(port, upgradeRequest(port, "", from("192.0.2.1")));
    expect(a3.status).toBe(429);
    expect(JSON.parse(a3.body).error).toBe("RateLimitExceeded");
    a3.close();
    const b1 = await raw(port, upgradeRequest(port, "", from("192.0.2.2")));
    expect(b1.status).toBe(101);
    const b2 = await raw(port, upgradeRequest(port, "", from("192.0.2.2")));
    expect(b2.status).toBe(503);
    expect(JSON.parse(b2.body).error).toBe("ServiceUnavailable");
    b2.close();
    a1.close();
    await eventually(() => ctx.firehose.size === 2, { timeoutMs: 5000, what: "a closed subscription frees its slot" });
    const b3 = await raw(port, upgradeRequest(port, "", from("192.0.2.2")));
    expect(b3.status).toBe(101);
    for (const r of [a2, b1, b3]) r.close();

    const metrics = await (await ctx.request("/metrics")).text();
    expect(metrics).toMatch(/aurora_firehose_refused_total\{reason="ip_full"\} 1/);
    expect(metrics).toMatch(/aurora_firehose_refused_total\{reason="node_full"\} 1/);
    expect(metrics).toMatch(/aurora_http_requests_total\{method="GET",route="com.atproto.sync.subscribeRepos",status="101"\} 4/);
    const lines = ctx.logs.filter((l) => l.msg === "request" && l.route === "com.atproto.sync.subscribeRepos");
    expect(lines.map((l) => l.status).sort()).toEqual([101, 101, 101, 101, 429, 503]);
  });

  test("the tier rate limit counts upgrades like any request", async () => {
    const { port } = await server({ rateLimit: { unauthenticated: 2 } });
    const first = new FirehoseClient(port);
    await first.opened;
    const second = new FirehoseClient(port);
    await second.opened;
    const third = await raw(port, upgradeRequest(port, "", "Connection: close\r\n"));
    third.close();
    expect(third.status).toBe(429);
    expect(third.head.toLowerCase()).toContain("retry-after");
    first.ws.close();
    second.ws.close();
  });
});

describe("CORS", () => {
  test("a preflight from a browser origin is answered for any route, before limits; every response carries the CORS headers", async () => {
    const ctx = await testContext({ rateLimit: { unauthenticated: 1 } });
    cleanups.push(() => ctx.close());
    const preflight = (path: string) =>
      ctx.handle(
        new Request(`http://localhost${path}`, {
          method: "OPTIONS",
          headers: {
            origin: "https://bsky.app",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, atproto-proxy, atproto-accept-labelers, dpop",
          },
        }),
        "203.0.113.5",
      );
    for (const path of ["/xrpc/com.atproto.server.createSession", "/xrpc/app.bsky.feed.getTimeline", "/xrpc/com.atproto.server.describeServer"]) {
      const res = await preflight(path);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      expect(res.headers.get("access-control-allow-headers")).toBe("authorization, content-type, atproto-proxy, atproto-accept-labelers, dpop");
      expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    }
    // Three preflights did not spend the one request this IP may make.
    const real = await ctx.handle(new Request("http://localhost/xrpc/com.atproto.server.describeServer", { headers: { origin: "https://bsky.app" } }), "203.0.113.5");
    expect(real.status).toBe(200);
    expect(real.headers.get("access-control-allow-origin")).toBe("*");
    const exposed = real.headers.get("access-control-expose-headers")!.split(/,\s*/);
    for (const h of ["atproto-repo-rev", "atproto-content-labelers", "ratelimit-remaining", "dpop-nonce", "www-authenticate"]) expect(exposed).toContain(h);
    const refused = await ctx.handle(new Request("http://localhost/xrpc/com.atproto.server.describeServer"), "203.0.113.5");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");
    // A header list that is not a list of names is not reflected.
    const odd = await ctx.handle(
      new Request("http://localhost/xrpc/x.y.z", { method: "OPTIONS", headers: { "access-control-request-method": "GET", "access-control-request-headers": "a b\u0001" } }),
    );
    expect(odd.headers.get("access-control-allow-headers")).toContain("authorization");
  });
});
