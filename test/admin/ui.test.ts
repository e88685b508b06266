/**
 * The admin web page through the one request path (ctx.handle): off unless
 * configured, sign-in (wrong and right password, the per-IP failure budget),
 * the session cookie's flags, CSRF and Origin refusals, and every action.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { UserConfig } from "@/config/schema";
import { quantile } from "@/admin/ui-figures";
import { createAdminSessions } from "@/admin/ui-session";
import { fromEnv } from "@/config/env";
import { resolveConfig } from "@/config/resolve";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type TestAccount, newAccount, serverConfig, xrpc } from "@test/xrpc/support";

const PASSWORD = "test-admin-password";
const ORIGIN = "http://localhost:2583";

/** A browser on the admin page: keeps the cookie, reads each page's CSRF token, sends our Origin. */
class AdminBrowser {
  cookie = "";
  csrf = "";
  constructor(
    readonly ctx: TestContext,
    readonly ip = "203.0.113.7",
  ) {}

  async send(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string }> {
    const headers = new Headers(init.headers);
    if (this.cookie && !headers.has("cookie")) headers.set("cookie", this.cookie);
    const res = await this.ctx.handle(new Request(`http://localhost${path}`, { ...init, headers }), this.ip);
    const setCookie = res.headers.get("set-cookie");
    if (setCookie) {
      const value = setCookie.split(";")[0]!;
      this.cookie = setCookie.includes("Max-Age=0") ? "" : value;
    }
    const text = await res.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(text);
    if (csrf) this.csrf = csrf[1]!;
    return { status: res.status, headers: res.headers, text };
  }

  get(path: string) {
    return this.send(path);
  }

  post(fields: Record<string, string>, headers: Record<string, string> = { origin: ORIGIN }) {
    const body = new URLSearchParams({ csrf: this.csrf, ...fields });
    return this.send("/admin", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });
  }

  async signIn(password = PASSWORD) {
    this.cookie = "";
    await this.get("/admin");
    return this.post({ action: "login", password });
  }
}

describe("admin page switch and figures", () => {
  test("PDS_ADMIN_UI=true or admin.ui turns the page on; off by default", () => {
    expect(fromEnv({ PDS_ADMIN_UI: "true" }).admin).toEqual({ ui: true });
    expect(resolveConfig(fromEnv({})).admin).toEqual({ ui: false });
    expect(resolveConfig({ admin: { ui: true } }).admin).toEqual({ ui: true });
    expect(() => resolveConfig({ admin: { ui: "yes" } })).toThrow("admin.ui: Expected boolean");
  });

  test("latency quantiles interpolate inside the histogram's cumulative buckets", () => {
    const buckets: [number, number][] = [[0.01, 50], [0.1, 90], [1, 100], [Number.POSITIVE_INFINITY, 100]];
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.01);
    expect(quantile(buckets, 0.7)).toBeCloseTo(0.055);
    expect(quantile(buckets, 0.95)).toBeCloseTo(0.55);
    expect(quantile([[0.01, 0], [Number.POSITIVE_INFINITY, 0]], 0.5)).toBeNull();
    // Past the last finite bound: that bound.
    expect(quantile([[0.01, 0], [Number.POSITIVE_INFINITY, 4]], 0.5)).toBe(0.01);
  });

  test("/admin and /admin/account are 404 unless admin.ui is set", async () => {
    const ctx = await testContext({ rateLimit: { enabled: false } });
    try {
      for (const path of ["/admin", "/admin/account?did=did:plc:x"]) expect((await ctx.request(path)).status).toBe(404);
      expect((await ctx.request("/admin", { method: "POST" })).status).toBe(404);
    } finally {
      await ctx.close();
    }
  });
});

describe("admin page", () => {
  let plc: TestPlc;
  let ctx: TestContext;
  let alice: TestAccount;
  let bob: TestAccount;
  const config = (extra: UserConfig = {}): UserConfig => ({
    ...serverConfig(plc.url),
    admin: { ui: true },
    // Limits on, with a small sign-in failure budget so the test can spend it.
    rateLimit: { enabled: true, rules: { "login-failures": { key: "ip", limits: [{ limit: 3, windowMs: 60_000, algorithm: "token-bucket" }] } } },
    ...extra,
  });

  beforeAll(async () => {
    plc = await startPlc();
    ctx = await testContext(config());
    alice = await newAccount(ctx, "alice");
    bob = await newAccount(ctx, "bob");
  }, 30_000);

  afterAll(async () => {
    await ctx?.close();
    await plc?.stop();
  });

  test("without a session: the sign-in form, CSP-locked, and nothing else", async () => {
    const b = new AdminBrowser(ctx);
    const page = await b.get("/admin");
    expect(page.status).toBe(200);
    expect(page.text).toContain('type="password"');
    expect(page.text).not.toContain("Recent moderation actions");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get("cache-control")).toBe("no-store");
    // The account page sends a browser without a session to the sign-in.
    const account = await b.get(`/admin/account?did=${alice.did}`);
    expect(account.status).toBe(303);
    expect(account.headers.get("location")).toBe("/admin");
  });

  test("a wrong password is refused without a cookie; the right one opens a session with strict cookie flags", async () => {
    const b = new AdminBrowser(ctx, "198.51.100.1");
    const wrong = await b.signIn("not-the-password");
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain("Wrong password.");
    expect(wrong.headers.get("set-cookie")).toBeNull();
    const right = await b.signIn();
    expect(right.status).toBe(303);
    expect(right.headers.get("location")).toBe("/admin");
    const cookie = right.headers.get("set-cookie")!;
    expect(cookie).toStartWith("aurora-admin=");
    for (const flag of ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=28800"]) expect(cookie).toContain(flag);
    expect(cookie).not.toContain("Secure");
    const dashboard = await b.get("/admin");
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain("Recent moderation actions");
    expect(dashboard.text).toContain("db-sqlite: ok");
    expect(dashboard.text).toContain("Latency p95");
  });

  test("the cookie is Secure when the public URL is https", () => {
    const sessions = createAdminSessions({ jwtSecret: "s".repeat(32), adminPassword: PASSWORD, secure: true });
    expect(sessions.open().cookie).toContain("; Secure");
    expect(sessions.clear()).toContain("; Secure");
  });

  test("a forged, expired or other-password session cookie is no session", async () => {
    const sessions = createAdminSessions({ jwtSecret: "test-jwt-secret-0123456789", adminPassword: PASSWORD, secure: false });
    const other = createAdminSessions({ jwtSecret: "test-jwt-secret-0123456789", adminPassword: "another-password", secure: false });
    const valueOf = (cookie: string) => cookie.split(";")[0]!;
    const good = valueOf(sessions.open().cookie);
    const [expiry, nonce, mac] = good.slice("aurora-admin=".length).split(".");
    const request = (cookie: string) => new Request("http://localhost/admin", { headers: { cookie } });
    expect(sessions.read(request(good))).not.toBeNull();
    expect(sessions.read(request(`aurora-admin=${Number(expiry) + 1000}.${nonce}.${mac}`))).toBeNull();
    expect(sessions.read(request(good), (Number(expiry) + 1) * 1000)).toBeNull();
    expect(sessions.read(request(valueOf(other.open().cookie)))).toBeNull();
    const b = new AdminBrowser(ctx);
    b.cookie = `aurora-admin=${Number(expiry) + 1000}.${nonce}.${mac}`;
    expect((await b.get("/admin")).text).toContain('type="password"');
  });

  test("failed sign-ins spend the per-IP budget (429 when spent); a right password gives its point back", async () => {
    const b = new AdminBrowser(ctx, "192.0.2.50");
    // Right passwords are refunded: any number of them leave the budget whole.
    for (let i = 0; i < 4; i++) expect((await b.signIn()).status).toBe(303);
    for (let i = 0; i < 3; i++) expect((await b.signIn("wrong-password")).status).toBe(401);
    const limited = await b.signIn("wrong-password");
    expect(limited.status).toBe(429);
    expect(limited.text).toContain("Too many failed attempts");
    // Even the right password waits while the budget is spent; another address is not affected.
    expect((await b.signIn()).status).toBe(429);
    expect((await new AdminBrowser(ctx, "192.0.2.51").signIn()).status).toBe(303);
  });

  test("forms need the session's CSRF token and our Origin", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    await b.get("/admin");
    const good = b.csrf;
    const cases: { name: string; fields: Record<string, string>; headers: Record<string, string> }[] = [
      { name: "no token", fields: { csrf: "" }, headers: { origin: ORIGIN } },
      { name: "another session's token", fields: { csrf: await otherSessionToken() }, headers: { origin: ORIGIN } },
      { name: "cross-site Origin", fields: {}, headers: { origin: "https://evil.example" } },
      { name: "Origin null", fields: {}, headers: { origin: "null" } },
      { name: "no Origin, cross-site fetch", fields: {}, headers: { "sec-fetch-site": "cross-site" } },
    ];
    for (const c of cases) {
      b.csrf = good;
      const res = await b.post({ action: "invite-create", uses: "1", ...c.fields }, c.headers);
      expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: 403 });
    }
    // Without Origin a same-origin fetch passes; the sign-in form is checked the same way.
    b.csrf = good;
    expect((await b.post({ action: "invite-create", uses: "1" }, { "sec-fetch-site": "same-origin" })).status).toBe(200);
    const fresh = new AdminBrowser(ctx);
    await fresh.get("/admin");
    expect((await fresh.post({ action: "login", password: PASSWORD }, { origin: "https://evil.example" })).status).toBe(403);
    // No session: an action is a sign-in page, not an action.
    const anonymous = new AdminBrowser(ctx);
    expect((await anonymous.post({ action: "invite-create", uses: "1" })).status).toBe(401);
  });

  async function otherSessionToken(): Promise<string> {
    const other = new AdminBrowser(ctx);
    await other.signIn();
    await other.get("/admin");
    return other.csrf;
  }

  test("search by handle or email prefix, then the account page", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    const byHandle = await b.get("/admin?q=alice");
    expect(byHandle.text).toContain(alice.handle);
    expect(byHandle.text).not.toContain(bob.handle);
    const byEmail = await b.get(`/admin?q=${encodeURIComponent(`${bob.handle}@mail`)}`);
    expect(byEmail.text).toContain(bob.handle);
    expect(byEmail.text).not.toContain(alice.handle);
    // Markup in the query comes back as text.
    const hostile = await b.get(`/admin?q=${encodeURIComponent('"><script>x</script>')}`);
    expect(hostile.text).not.toContain("<script>x");
    expect(hostile.text).toContain("No account matches.");
    const page = await b.get(`/admin/account?did=${encodeURIComponent(alice.did)}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain(alice.did);
    expect(page.text).toContain(`${alice.handle}@mail.test`);
    expect(page.text).toMatch(/id="status">active/);
    expect((await b.get("/admin/account?did=did:plc:notherenotherenothere")).status).toBe(404);
  });

  test("reset-password shows the new password once; it works and the old one does not", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    await b.get(`/admin/account?did=${encodeURIComponent(bob.did)}`);
    const res = await b.post({ action: "reset-password", did: bob.did });
    expect(res.status).toBe(200);
    const password = /id="new-password">([^<]+)</.exec(res.text)![1]!;
    expect(password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    const login = (pw: string) => xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: bob.handle, password: pw } });
    expect((await login(password)).status).toBe(200);
    expect((await login(bob.password)).status).toBe(401);
    // The old session ended with the reset.
    const old = await xrpc(ctx, "com.atproto.server.getSession", { auth: bob.bearer });
    expect(old.body.error).toBe("ExpiredToken");
    // Shown once: the account page does not show it again.
    expect((await b.get(`/admin/account?did=${encodeURIComponent(bob.did)}`)).text).not.toContain(password);
    const log = await b.get("/admin");
    expect(log.text).toContain("reset-password");
  });

  test("invite codes: create (shown and listed), disable", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    await b.get("/admin");
    const created = await b.post({ action: "invite-create", uses: "3" });
    expect(created.status).toBe(200);
    const code = /id="new-invite">([^<]+)</.exec(created.text)![1]!;
    expect(created.text).toContain(`<td class="mono">${code}</td><td>3</td>`);
    const bad = await b.post({ action: "invite-create", uses: "0" });
    expect(bad.status).toBe(400);
    const disabled = await b.post({ action: "invite-disable", code });
    expect(disabled.status).toBe(303);
    expect(disabled.headers.get("location")).toBe("/admin?notice=invite-disabled");
    const after = await b.get("/admin?notice=invite-disabled");
    expect(after.text).toContain("The invite code is disabled.");
    expect(after.text).toContain(`<td class="mono">${code}</td><td><span class="bad">disabled</span>`);
    expect(after.text).toContain("disable-invite-code");
    expect(after.text).toContain("create-invite-code");
    // The code no longer signs anyone up.
    const signUp = await xrpc(ctx, "com.atproto.server.createAccount", { body: { handle: "carol-invite.test", email: "carol@mail.test", password: "pw-carol-123", inviteCode: code } });
    expect(signUp.status).toBe(400);
  });

  test("takedown and untakedown change the account's status", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    await b.get(`/admin/account?did=${encodeURIComponent(alice.did)}`);
    const down = await b.post({ action: "takedown", did: alice.did });
    expect(down.status).toBe(303);
    expect(down.headers.get("location")).toBe(`/admin/account?did=${encodeURIComponent(alice.did)}&notice=taken-down`);
    const page = await b.get(down.headers.get("location")!);
    expect(page.text).toContain('id="status"><span class="bad">takendown</span>');
    expect(page.text).toContain("The account is taken down");
    expect((await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: alice.handle, password: alice.password } })).status).toBe(401);
    expect((await b.get("/admin?q=alice")).text).toContain('<span class="bad">takendown</span>');
    const up = await b.post({ action: "untakedown", did: alice.did });
    expect(up.status).toBe(303);
    expect((await b.get(up.headers.get("location")!)).text).toMatch(/id="status">active/);
    expect((await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: alice.handle, password: alice.password } })).status).toBe(200);
  });

  test("sign-out clears the cookie", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    await b.get("/admin");
    const out = await b.post({ action: "logout" });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("aurora-admin=; Path=/admin; HttpOnly; SameSite=Strict");
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await b.get("/admin")).text).toContain('type="password"');
  });

  test("an unknown action and an unreadable form are 400 pages", async () => {
    const b = new AdminBrowser(ctx);
    await b.signIn();
    await b.get("/admin");
    expect((await b.post({ action: "format-disk" })).status).toBe(400);
    const json = await b.send("/admin", { method: "POST", headers: { "content-type": "application/json", origin: ORIGIN }, body: "{}" });
    expect(json.status).toBe(400);
    expect(json.headers.get("content-type")).toContain("text/html");
  });
});
