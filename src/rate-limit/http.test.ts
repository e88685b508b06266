import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { createTokenSigner, SCOPE } from "@/auth/tokens";
import type { UserConfig } from "@/config/schema";
import { listen } from "@/http/server";
import { procedure, query } from "@/xrpc/method";
import { type TestContext, testContext } from "@test/support/context";
import { repoWritePoints } from "./rules";

const JWT_SECRET = "test-jwt-secret-0123456789";
const signer = createTokenSigner(JWT_SECRET, "did:web:localhost");
const bearer = async (did: string) =>
  `Bearer ${(await signer.sign({ did, scope: SCOPE.access, sessionId: crypto.randomUUID() })).accessJwt}`;
const basic = (password: string) => `Basic ${Buffer.from(`admin:${password}`).toString("base64")}`;

// Stand-ins with the reference's NSIDs, so the built-in route table applies to them.
const methods = {
  "com.atproto.server.describeServer": query({ handler: () => ({ ok: true }) }),
  "com.atproto.server.createSession": procedure({
    input: Type.Object({ identifier: Type.String(), password: Type.String() }),
    handler: ({ input }) => ({ identifier: input.identifier }),
  }),
  "com.atproto.repo.createRecord": procedure({ handler: () => ({ created: true }) }),
  "com.atproto.repo.applyWrites": procedure({
    input: Type.Object({ repo: Type.String(), writes: Type.Array(Type.Object({ $type: Type.String() })) }),
    async handler({ ctx, input }) {
      await ctx.rateLimits.consumePoints("repo-write", input.repo, repoWritePoints(input.writes));
      return { applied: input.writes.length };
    },
  }),
};

interface Call {
  ip?: string;
  headers?: Record<string, string>;
  body?: unknown;
}
const send = (ctx: TestContext, path: string, { ip = "203.0.113.1", headers = {}, body }: Call = {}) =>
  ctx.handle(
    new Request(`http://localhost${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    ip,
  );
const statuses = async (n: number, fn: () => Promise<Response>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await fn()).status);
  return out;
};
const DESCRIBE = "/xrpc/com.atproto.server.describeServer";

const contexts: TestContext[] = [];
const make = async (rateLimit: UserConfig["rateLimit"]) => {
  const ctx = await testContext({ rateLimit, secrets: { jwtSecret: JWT_SECRET } }, { methods });
  contexts.push(ctx);
  return ctx;
};
afterAll(async () => {
  for (const ctx of contexts) await ctx.close();
});

describe("responses", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await make({ unauthenticated: 2 });
  });

  test("a limited route answers with RateLimit-* headers, then a 429 RateLimitExceeded with Retry-After", async () => {
    const before = Math.floor(Date.now() / 1000);
    const first = await send(ctx, DESCRIBE);
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-limit")).toBe("2");
    expect(first.headers.get("ratelimit-remaining")).toBe("1");
    expect(first.headers.get("ratelimit-policy")).toBe("2;w=60");
    const reset = Number(first.headers.get("ratelimit-reset"));
    expect(reset).toBeGreaterThanOrEqual(before + 59);
    expect(reset).toBeLessThanOrEqual(before + 61);
    expect(first.headers.get("retry-after")).toBeNull();
    expect((await send(ctx, DESCRIBE)).headers.get("ratelimit-remaining")).toBe("0");

    const refused = await send(ctx, DESCRIBE);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: "RateLimitExceeded", message: "Rate Limit Exceeded" });
    expect(refused.headers.get("content-type")).toContain("application/json");
    const retry = Number(refused.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("x-request-id")).toBeTruthy();
  });

  test("every XRPC request counts, unknown methods included; probes and scrapes never do", async () => {
    const ip = "203.0.113.2";
    expect((await send(ctx, "/xrpc/io.example.unknown", { ip })).status).toBe(501);
    expect((await send(ctx, "/xrpc/io.example.unknown", { ip })).status).toBe(501);
    expect((await send(ctx, DESCRIBE, { ip })).status).toBe(429);
    for (const path of ["/xrpc/_health", "/health/live", "/health/ready", "/metrics", "/robots.txt"]) {
      const results = await statuses(4, () => send(ctx, path, { ip }));
      expect(results).toEqual([200, 200, 200, 200]);
      expect((await send(ctx, path, { ip })).headers.get("ratelimit-limit")).toBeNull();
    }
  });

  test("refusals show in the request log and the HTTP metrics as 429s", async () => {
    await send(ctx, DESCRIBE, { ip: "203.0.113.3" });
    await send(ctx, DESCRIBE, { ip: "203.0.113.3" });
    await send(ctx, DESCRIBE, { ip: "203.0.113.3" });
    expect(ctx.logs.some((l) => l.msg === "request" && l.status === 429 && l.route === "com.atproto.server.describeServer")).toBe(true);
    const text = await (await send(ctx, "/metrics")).text();
    expect(text).toMatch(/aurora_http_requests_total\{method="GET",route="com.atproto.server.describeServer",status="429"\} \d+/);
    expect(text).toMatch(/aurora_rate_limit_requests_total\{rule="tier:unauthenticated",outcome="limited"\} [1-9]/);
    expect(text).toMatch(/aurora_rate_limit_requests_total\{rule="tier:unauthenticated",outcome="allowed"\} [1-9]/);
  });
});

describe("tiers", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await make({ unauthenticated: 1, authenticated: 3, admin: 5 });
  });

  test("unauthenticated callers are counted per client IP", async () => {
    expect(await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.1" }))).toEqual([200, 429]);
    expect(await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.2" }))).toEqual([200, 429]);
  });

  test("a valid session token is counted per DID, whatever the IP; an invalid one counts as its IP", async () => {
    const alice = { authorization: await bearer("did:plc:alice") };
    const results = [
      ...(await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.3", headers: alice }))),
      ...(await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.4", headers: alice }))),
    ];
    expect(results).toEqual([200, 200, 200, 429]);
    const bob = { authorization: await bearer("did:plc:bob") };
    expect((await send(ctx, DESCRIBE, { ip: "198.51.100.3", headers: bob })).headers.get("ratelimit-limit")).toBe("3");

    const refresh = { authorization: `Bearer ${(await signer.sign({ did: "did:plc:carol", scope: SCOPE.access, sessionId: "s" })).refreshJwt}` };
    expect(await statuses(4, () => send(ctx, DESCRIBE, { ip: "198.51.100.8", headers: refresh }))).toEqual([200, 200, 200, 429]);

    const forged = `Bearer ${(await createTokenSigner("another-secret-0123456789", "did:web:localhost").sign({
      did: "did:plc:alice", scope: SCOPE.access, sessionId: "x" })).accessJwt}`;
    const invalid = await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.5", headers: { authorization: forged } }));
    expect(invalid).toEqual([200, 429]);
  });

  test("HTTP Basic with the admin password is the admin tier; a wrong password is not", async () => {
    const admin = { authorization: basic("test-admin-password") };
    const results = await statuses(6, () => send(ctx, DESCRIBE, { ip: "198.51.100.6", headers: admin }));
    expect(results).toEqual([200, 200, 200, 200, 200, 429]);
    const wrong = { authorization: basic("not-the-password") };
    expect(await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.7", headers: wrong }))).toEqual([200, 429]);
  });
});

describe("client IP", () => {
  test("forwarding headers count only from a trusted proxy (default: loopback and private ranges)", async () => {
    const ctx = await make({ unauthenticated: 1 });
    const via = (peer: string, headers: Record<string, string>) => send(ctx, DESCRIBE, { ip: peer, headers });
    // Behind a local proxy: each forwarded client has its own budget.
    expect((await via("127.0.0.1", { "x-forwarded-for": "192.0.2.10" })).status).toBe(200);
    expect((await via("127.0.0.1", { "x-forwarded-for": "192.0.2.11" })).status).toBe(200);
    expect((await via("::ffff:127.0.0.1", { "x-forwarded-for": "192.0.2.10" })).status).toBe(429);
    // A client cannot choose its key by writing the header itself: proxies append, we read from the right.
    expect((await via("10.0.0.5", { "x-forwarded-for": "192.0.2.99, 192.0.2.12, 10.0.0.9" })).status).toBe(200);
    expect((await via("10.0.0.5", { "x-forwarded-for": "192.0.2.98, 192.0.2.12" })).status).toBe(429);
    expect((await via("10.0.0.5", { "x-real-ip": "192.0.2.13" })).status).toBe(200);
    // Straight from the internet the headers mean nothing.
    expect((await via("192.0.2.50", { "x-forwarded-for": "192.0.2.60" })).status).toBe(200);
    expect((await via("192.0.2.50", { "x-forwarded-for": "192.0.2.61" })).status).toBe(429);
  });

  test("over a real socket the peer address comes from the server, and loopback is a trusted proxy", async () => {
    const ctx = await make({ unauthenticated: 1 });
    const server = listen(ctx, 0);
    try {
      const get = (forwarded: string) =>
        fetch(`http://127.0.0.1:${server.port}${DESCRIBE}`, { headers: { "x-forwarded-for": forwarded } }).then((r) => r.status);
      expect([await get("192.0.2.20"), await get("192.0.2.20"), await get("192.0.2.21")]).toEqual([200, 429, 200]);
      // A rule keyed by the body reads it from a clone: the handler still gets the streamed body.
      const login = await fetch(`http://127.0.0.1:${server.port}/xrpc/com.atproto.server.createSession`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "192.0.2.22" },
        body: JSON.stringify({ identifier: "alice.test", password: "x" }),
      });
      expect(await login.json()).toEqual({ identifier: "alice.test" });
      expect(login.headers.get("ratelimit-limit")).toBe("1");
    } finally {
      await server.shutdown();
    }
  });

  test("an empty trusted-proxy list ignores forwarding headers, even from loopback", async () => {
    const ctx = await make({ unauthenticated: 1, trustedProxies: [] });
    expect((await send(ctx, DESCRIBE, { ip: "127.0.0.1", headers: { "x-forwarded-for": "192.0.2.10" } })).status).toBe(200);
    expect((await send(ctx, DESCRIBE, { ip: "127.0.0.1", headers: { "x-forwarded-for": "192.0.2.11" } })).status).toBe(429);
  });

  test("bypass key and bypass IPs skip every limit and are counted", async () => {
    const ctx = await make({ unauthenticated: 1, bypassKey: "operator-bypass-key-123", bypassIps: ["192.0.2.0/28", "2001:db8::1"] });
    const key = { "x-ratelimit-bypass": "operator-bypass-key-123" };
    expect(await statuses(3, () => send(ctx, DESCRIBE, { ip: "198.51.100.20", headers: key }))).toEqual([200, 200, 200]);
    expect(await statuses(3, () => send(ctx, DESCRIBE, { ip: "192.0.2.7" }))).toEqual([200, 200, 200]);
    expect(await statuses(3, () => send(ctx, DESCRIBE, { ip: "2001:db8::1" }))).toEqual([200, 200, 200]);
    expect((await send(ctx, DESCRIBE, { ip: "192.0.2.7" })).headers.get("ratelimit-limit")).toBeNull();
    const wrong = { "x-ratelimit-bypass": "operator-bypass-key-124" };
    expect(await statuses(2, () => send(ctx, DESCRIBE, { ip: "198.51.100.21", headers: wrong }))).toEqual([200, 429]);
    const text = await (await send(ctx, "/metrics")).text();
    expect(text).toContain('aurora_rate_limit_bypassed_total{reason="key"} 3');
    expect(text).toContain('aurora_rate_limit_bypassed_total{reason="ip"} 7');
  });
});

describe("per-route rules", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await make({
      rules: {
        "create-session": { key: "identifier-ip", limits: [{ limit: 2, windowMs: 60_000, algorithm: "sliding-log" }] },
        "repo-write": { key: "did", limits: [{ limit: 10, windowMs: 3_600_000, algorithm: "token-bucket" }] },
      },
    });
  });

  test("createSession is counted per identifier and IP, and its handler still reads the body", async () => {
    const login = (identifier: string, ip: string) =>
      send(ctx, "/xrpc/com.atproto.server.createSession", { ip, body: { identifier, password: "x" } });
    const first = await login("Alice.test", "198.51.100.30");
    expect(await first.json()).toEqual({ identifier: "Alice.test" });
    expect(first.headers.get("ratelimit-limit")).toBe("2");
    expect((await login("alice.test", "198.51.100.30")).status).toBe(200);
    expect((await login("alice.test", "198.51.100.30")).status).toBe(429);
    expect((await login("bob.test", "198.51.100.30")).status).toBe(200);
    expect((await login("alice.test", "198.51.100.31")).status).toBe(200);
    const text = await (await send(ctx, "/metrics")).text();
    expect(text).toContain('aurora_rate_limit_requests_total{rule="create-session",outcome="limited"} 1');
    expect(text).toContain('aurora_rate_limit_requests_total{rule="create-session",outcome="allowed"} 4');
  });

  test("createRecord costs 3 repo-write points per DID; an unauthenticated call is left to auth", async () => {
    const headers = { authorization: await bearer("did:plc:writer") };
    const create = () => send(ctx, "/xrpc/com.atproto.repo.createRecord", { headers, body: {} });
    const results: [number, string | null][] = [];
    for (let i = 0; i < 4; i++) {
      const res = await create();
      results.push([res.status, res.headers.get("ratelimit-remaining")]);
    }
    expect(results).toEqual([[200, "7"], [200, "4"], [200, "1"], [429, "1"]]);
    expect((await send(ctx, "/xrpc/com.atproto.repo.createRecord", { body: {} })).status).toBe(200);
  });

  test("applyWrites spends the sum of its writes through ctx.rateLimits.consumePoints", async () => {
    const did = "did:plc:batcher";
    const headers = { authorization: await bearer(did) };
    const apply = (types: string[]) =>
      send(ctx, "/xrpc/com.atproto.repo.applyWrites", {
        headers,
        body: { repo: did, writes: types.map((t) => ({ $type: `com.atproto.repo.applyWrites#${t}` })) },
      });
    const ok = await apply(["create", "update", "delete"]);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-remaining")).toBe("4");
    expect(ok.headers.get("ratelimit-limit")).toBe("10");
    const refused = await apply(["create", "create"]);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: "RateLimitExceeded", message: "Rate Limit Exceeded" });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit-remaining")).toBe("4");
    expect((await apply(["update", "update"])).status).toBe(200);
  });

  test("consumePoints names an unknown rule loudly and is a no-op when limits are off", async () => {
    await expect(ctx.rateLimits.consumePoints("no-such-rule", "x", 1)).rejects.toThrow("no-such-rule");
    const off = await make({ enabled: false, rules: { "repo-write": { key: "did", limits: [{ limit: 1, windowMs: 60_000 }] } } });
    await off.rateLimits.consumePoints("repo-write", "did:plc:x", 5);
    expect((await send(off, DESCRIBE)).headers.get("ratelimit-limit")).toBeNull();
  });
});
