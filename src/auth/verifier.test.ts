import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { methods } from "@/xrpc";
import type { AuthMode } from "./types";
import { query } from "@/xrpc/method";
import { type TestContext, testContext } from "@test/support/context";

const MODES: AuthMode[] = ["none", "optional", "access", "privileged", "full", "refresh", "admin", "service", "access-or-service", "service-optional", "moderator"];
const DID = "did:plc:verifieraaaaaaaaaaaaaaaa";
const PASSWORD = "verifier-password";

// One method per auth mode, answering with the caller the XRPC layer verified.
const testMethods = {
  ...methods,
  ...Object.fromEntries(MODES.map((auth) => [`io.example.auth.${auth}`, query({ auth, handler: ({ auth: caller }) => ({ caller }) })])),
};

let ctx: TestContext;
const creds: Record<string, string | undefined> = {};

const login = async (password: string) => {
  const res = await ctx.request("/xrpc/com.atproto.server.createSession", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identifier: "verifier.test", password }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { accessJwt: string; refreshJwt: string };
};

beforeAll(async () => {
  ctx = await testContext({ rateLimit: { enabled: false } }, { methods: testMethods });
  // An account row is all login needs; no PLC directory is involved here.
  await ctx.db
    .db()
    .insertInto("account")
    .values({
      did: DID,
      handle: "verifier.test",
      email: "verifier@example.com",
      email_confirmed_at: null,
      password_hash: await Bun.password.hash(PASSWORD, { algorithm: "argon2id" }),
      signing_key: new Uint8Array(1),
      created_at: new Date().toISOString(),
      deactivated_at: null,
      delete_after: null,
      takedown_ref: null,
    })
    .execute();
  const full = await login(PASSWORD);
  const app = await login((await ctx.accounts.createAppPassword(DID, "plain", false)).password);
  const privileged = await login((await ctx.accounts.createAppPassword(DID, "privileged", true)).password);
  const basic = (password: string) => `Basic ${Buffer.from(`admin:${password}`).toString("base64")}`;
  Object.assign(creds, {
    nothing: undefined,
    full: `Bearer ${full.accessJwt}`,
    appPass: `Bearer ${app.accessJwt}`,
    appPassPrivileged: `Bearer ${privileged.accessJwt}`,
    refresh: `Bearer ${full.refreshJwt}`,
    admin: basic("test-admin-password"),
    wrongAdmin: basic("not-the-password"),
  });
});
afterAll(() => ctx?.close());

/** The caller's kind ("anonymous" for none), or the refusal as "status Error". */
type Expected = string;
const ok = (kind: string | null): Expected => kind ?? "anonymous";
const no = (status: number, error: string): Expected => `${status} ${error}`;

// Rows: credentials sent. Columns: the method's auth mode (no moderation service is configured here:
// test/admin/moderation.test.ts has the moderator mode with one).
const TABLE: Record<string, Record<AuthMode, Expected>> = {
  nothing: { none: ok(null), optional: ok(null), access: no(401, "AuthenticationRequired"), privileged: no(401, "AuthenticationRequired"), full: no(401, "AuthenticationRequired"), refresh: no(401, "AuthenticationRequired"), admin: no(401, "AuthenticationRequired"), service: no(401, "AuthenticationRequired"), "access-or-service": no(401, "AuthenticationRequired"), "service-optional": ok(null), moderator: no(401, "AuthenticationRequired") },
  full: { none: ok(null), optional: ok("access"), access: ok("access"), privileged: ok("access"), full: ok("access"), refresh: no(400, "InvalidToken"), admin: no(401, "AuthenticationRequired"), service: no(401, "BadJwtType"), "access-or-service": ok("access"), "service-optional": ok(null), moderator: no(401, "UntrustedIss") },
  appPass: { none: ok(null), optional: ok("appPass"), access: ok("appPass"), privileged: no(400, "InvalidToken"), full: no(400, "InvalidToken"), refresh: no(400, "InvalidToken"), admin: no(401, "AuthenticationRequired"), service: no(401, "BadJwtType"), "access-or-service": ok("appPass"), "service-optional": ok(null), moderator: no(401, "UntrustedIss") },
  appPassPrivileged: { none: ok(null), optional: ok("appPassPrivileged"), access: ok("appPassPrivileged"), privileged: ok("appPassPrivileged"), full: no(400, "InvalidToken"), refresh: no(400, "InvalidToken"), admin: no(401, "AuthenticationRequired"), service: no(401, "BadJwtType"), "access-or-service": ok("appPassPrivileged"), "service-optional": ok(null), moderator: no(401, "UntrustedIss") },
  refresh: { none: ok(null), optional: no(400, "InvalidToken"), access: no(400, "InvalidToken"), privileged: no(400, "InvalidToken"), full: no(400, "InvalidToken"), refresh: ok("refresh"), admin: no(401, "AuthenticationRequired"), service: no(401, "BadJwtType"), "access-or-service": no(400, "InvalidToken"), "service-optional": ok(null), moderator: no(401, "UntrustedIss") },
  admin: { none: ok(null), optional: ok("admin"), access: no(400, "InvalidToken"), privileged: no(400, "InvalidToken"), full: no(400, "InvalidToken"), refresh: no(400, "InvalidToken"), admin: ok("admin"), service: no(400, "InvalidToken"), "access-or-service": no(400, "InvalidToken"), "service-optional": ok(null), moderator: ok("admin") },
  wrongAdmin: { none: ok(null), optional: no(401, "AuthenticationRequired"), access: no(400, "InvalidToken"), privileged: no(400, "InvalidToken"), full: no(400, "InvalidToken"), refresh: no(400, "InvalidToken"), admin: no(401, "AuthenticationRequired"), service: no(400, "InvalidToken"), "access-or-service": no(400, "InvalidToken"), "service-optional": ok(null), moderator: no(401, "AuthenticationRequired") },
};

describe("the XRPC layer verifies every auth mode", () => {
  const cases = Object.entries(TABLE).flatMap(([cred, row]) => MODES.map((mode) => [cred, mode, row[mode]] as const));
  test.each(cases)("%s credentials on an auth:%s method → %s", async (cred, mode, expected) => {
    const auth = creds[cred];
    const res = await ctx.request(`/xrpc/io.example.auth.${mode}`, auth ? { headers: { authorization: auth } } : {});
    const body = (await res.json()) as { caller?: { kind: string; did?: string } | null; error?: string };
    const got = res.status === 200 ? (body.caller?.kind ?? "anonymous") : `${res.status} ${body.error}`;
    expect(got).toBe(expected);
    if (res.status === 200 && body.caller && body.caller.kind !== "admin") expect(body.caller.did).toBe(DID);
  });

  test("callers carry what handlers need: the app password name, the refresh token id", async () => {
    const caller = async (mode: AuthMode, cred: string) =>
      ((await (await ctx.request(`/xrpc/io.example.auth.${mode}`, { headers: { authorization: creds[cred]! } })).json()) as { caller: Record<string, string> }).caller;
    expect(await caller("access", "appPass")).toEqual({ kind: "appPass", did: DID, status: "active", tokenId: "plain" });
    expect(await caller("access", "full")).toEqual({ kind: "access", did: DID, status: "active" });
    const refresh = await caller("refresh", "refresh");
    expect(refresh.tokenId).toBe(JSON.parse(Buffer.from(creds.refresh!.split(".")[1]!, "base64url").toString()).jti);
    expect(await caller("admin", "admin")).toEqual({ kind: "admin" });
  });

  test("a malformed Authorization header or an unknown scheme is 400 InvalidToken", async () => {
    for (const authorization of ["Bearer", "Bearer a b", "Token abc"]) {
      const res = await ctx.request("/xrpc/io.example.auth.access", { headers: { authorization } });
      expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([400, "InvalidToken"]);
    }
  });

  test("a DPoP token that is not ours is 401 invalid_token, the way OAuth clients read it", async () => {
    const res = await ctx.request("/xrpc/io.example.auth.access", { headers: { authorization: "DPoP abc" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toStartWith('DPoP error="invalid_token"');
    expect(res.headers.get("dpop-nonce")).toBeTruthy();
  });
});
