/**
 * Log-in is no CPU DoS: failed log-ins are limited per client IP whatever
 * identifier is tried, an IP over its budget is refused before any hashing,
 * and a log-in costs the same hashes whether the account exists or not.
 * Through the real server, on SQLite with local limits and on PostgreSQL
 * with Redis-backed (distributed) limits, where refunds run as Lua.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import * as nodeCrypto from "node:crypto";
import postgresjs from "postgres";
import type { UserConfig } from "@/config/schema";
import { redis } from "@plugins/cache-redis";
import { postgres } from "@plugins/db-postgres";
import { type TestContext, testContext } from "./support/context";
import { type TestPlc, startPlc } from "./support/plc";

const PASSWORD = "correct horse battery staple";
const LIMIT = 5;

interface Backend {
  label: string;
  prepare(): Promise<{ user: UserConfig; dispose(): Promise<void> }>;
}

const sqliteBackend: Backend = {
  label: "sqlite, local limits",
  prepare: async () => ({ user: {}, dispose: async () => {} }),
};

const postgresBackend: Backend = {
  label: "postgres + redis, distributed limits",
  async prepare() {
    const base = process.env.AURORA_TEST_POSTGRES_URL;
    const redisUrl = process.env.AURORA_TEST_REDIS_URL;
    if (!base || !redisUrl) throw new Error("AURORA_TEST_POSTGRES_URL / AURORA_TEST_REDIS_URL unset: run via scripts/with-services.ts");
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const name = `aurora_login_${id}`;
    const admin = postgresjs(base, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
    return {
      user: {
        db: postgres({ url, maxConnections: 5 }),
        cache: redis({ url: redisUrl, keyPrefix: `aurora-login-${id}:` }),
        rateLimit: { distributed: true },
      },
      async dispose() {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
  },
};

for (const backend of [sqliteBackend, postgresBackend]) {
  describe(`login limits (${backend.label})`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let dispose: () => Promise<void>;
    let appPassword: string;
    const handle = "alice.test";

    const login = async (ip: string, identifier: string, password: string) => {
      const res = await ctx.handle(
        new Request("http://localhost/xrpc/com.atproto.server.createSession", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier, password }),
        }),
        ip,
      );
      const body = (await res.json()) as { error?: string; message?: string; accessJwt?: string };
      return { status: res.status, error: body.error, body };
    };

    /** How many argon2id checks and scrypt hashes `fn` runs. */
    const hashes = async (fn: () => Promise<unknown>) => {
      const argon2 = spyOn(Bun.password, "verify");
      const scrypt = spyOn(nodeCrypto, "scrypt");
      try {
        await fn();
        return { argon2: argon2.mock.calls.length, scrypt: scrypt.mock.calls.length };
      } finally {
        argon2.mockRestore();
        scrypt.mockRestore();
      }
    };

    beforeAll(async () => {
      plc = await startPlc();
      const prepared = await backend.prepare();
      dispose = prepared.dispose;
      ctx = await testContext({
        log: { level: "warn" },
        identity: { plcUrl: plc.url },
        service: { inviteRequired: false, devMode: true },
        ...prepared.user,
        rateLimit: {
          ...prepared.user.rateLimit,
          rules: { "login-failures": { key: "ip", limits: [{ limit: LIMIT, windowMs: 300_000, algorithm: "token-bucket" }] } },
        },
      });
      const created = await ctx.handle(
        new Request("http://localhost/xrpc/com.atproto.server.createAccount", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ handle, email: "alice@example.com", password: PASSWORD }),
        }),
        "198.51.100.1",
      );
      const { accessJwt } = (await created.json()) as { accessJwt: string };
      expect(created.status).toBe(200);
      const made = await ctx.handle(
        new Request("http://localhost/xrpc/com.atproto.server.createAppPassword", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${accessJwt}` },
          body: JSON.stringify({ name: "client" }),
        }),
        "198.51.100.1",
      );
      appPassword = ((await made.json()) as { password: string }).password;
    });
    afterAll(async () => {
      await ctx?.close();
      await plc?.stop();
      await dispose?.();
    });

    test("failures from one IP with a new identifier each time end in 429 before any hashing; other IPs are unaffected", async () => {
      const ip = "203.0.113.10";
      for (let i = 0; i < LIMIT; i++) {
        expect(await login(ip, `nobody-${i}.test`, "wrong password")).toMatchObject({ status: 401, error: "AuthenticationRequired" });
      }
      let refused: Awaited<ReturnType<typeof login>> | undefined;
      expect(await hashes(async () => (refused = await login(ip, "nobody-else.test", "wrong password")))).toEqual({ argon2: 0, scrypt: 0 });
      expect(refused).toMatchObject({ status: 429, error: "RateLimitExceeded" });
      // Like the reference PDS, whose createSession limits refuse before the handler runs: over the limit even the right password waits.
      expect(await login(ip, handle, PASSWORD)).toMatchObject({ status: 429, error: "RateLimitExceeded" });
      expect(await login("203.0.113.11", handle, "wrong password")).toMatchObject({ status: 401, error: "AuthenticationRequired" });
      expect(await login("203.0.113.11", handle, PASSWORD)).toMatchObject({ status: 200 });
    });

    test("successful log-ins do not count: many from one IP, and its failure budget is still whole", async () => {
      const ip = "203.0.113.20";
      for (let i = 0; i < LIMIT * 2; i++) expect((await login(ip, handle, PASSWORD)).status).toBe(200);
      expect((await login(ip, handle, appPassword)).status).toBe(200);
      for (let i = 0; i < LIMIT; i++) expect((await login(ip, `nobody-${i}.test`, "wrong")).status).toBe(401);
      expect((await login(ip, handle, PASSWORD)).status).toBe(429);
    });

    test.each([
      ["an unknown identifier", "nobody.test", "wrong password", { argon2: 1, scrypt: 0 }],
      ["a wrong account password", handle, "wrong password", { argon2: 1, scrypt: 0 }],
      ["the account password", handle, PASSWORD, { argon2: 1, scrypt: 0 }],
      ["an app-password-shaped guess, unknown identifier", "nobody.test", "aaaa-bbbb-cccc-dddd", { argon2: 1, scrypt: 1 }],
      ["an app-password-shaped guess, known identifier", handle, "aaaa-bbbb-cccc-dddd", { argon2: 1, scrypt: 1 }],
    ])("%s costs the same hashes whether the account exists", async (_, identifier, password, expected) => {
      expect(await hashes(() => login("203.0.113.30", identifier, password))).toEqual(expected);
    });

    test("an app password costs one scrypt hash and no argon2id", async () => {
      expect(await hashes(() => login("203.0.113.31", handle, appPassword))).toEqual({ argon2: 0, scrypt: 1 });
    });
  });
}
