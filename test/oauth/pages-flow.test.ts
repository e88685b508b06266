import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type SmtpSink, startSmtpSink, tokenIn } from "@test/support/smtp";
import { newAccount, serverConfig, xrpc } from "@test/xrpc/support";
import { REDIRECT_URI, SCOPE, TestOAuthClient, dpopKey, hidden, loopbackClientId, pkce } from "./kit";

/**
 * The sign-in pages' flows with a real SMTP sink: email two-factor, "stay
 * signed in" and the account chooser, prompt=login / prompt=none,
 * login_hint, app passwords refused, and what deactivation, takedown and
 * deletion do to OAuth sessions and rows.
 */
describe("OAuth sign-in pages", () => {
  let plc: TestPlc;
  let smtp: SmtpSink;
  let ctx: TestContext;
  const send = (request: Request) => ctx.handle(request);
  const publicUrl = () => ctx.config.service.publicUrl;
  const OTHER_REDIRECT = "http://127.0.0.1:4556/other";
  /** A browser (cookie jar) for a client; `cookie` carries a device over from another client's browser. */
  const browser = async (clientId = loopbackClientId(), cookie?: string) => {
    const c = new TestOAuthClient(send, "http://localhost", publicUrl(), await dpopKey(), clientId);
    c.cookie = cookie;
    return c;
  };
  const query = (c: TestOAuthClient, uri: string) => `/oauth/authorize?client_id=${encodeURIComponent(c.clientId)}&request_uri=${encodeURIComponent(uri)}`;
  /** PAR then open the page: the page and the form fields every post needs. */
  const open = async (c: TestOAuthClient, extra: Record<string, string> = {}) => {
    const par = await c.par(extra);
    expect(par.status).toBe(201);
    const uri = par.body.request_uri as string;
    const pageReply = await c.page("GET", query(c, uri));
    return { uri, page: pageReply, base: () => ({ request_uri: uri, client_id: c.clientId }) };
  };
  const post = (c: TestOAuthClient, csrfPage: string, form: Record<string, string>) => c.page("POST", "/oauth/authorize", { csrf: hidden(csrfPage, "csrf"), ...form });

  beforeAll(async () => {
    [plc, smtp] = await Promise.all([startPlc(), startSmtpSink()]);
    ctx = await testContext(serverConfig(plc.url, { email: { smtpUrl: smtp.url, fromAddress: "pds@localhost" } } as never));
  });
  afterAll(async () => {
    await ctx?.close();
    await Promise.all([plc?.stop(), smtp?.stop()]);
  });

  const mailTo = async (address: string, fn: () => Promise<unknown>) => {
    const seen = smtp.messages().filter((m) => m.to.includes(address)).length;
    await fn();
    return smtp.next(address, seen);
  };

  test("email two-factor: the code field after the password; a wrong code is refused, the emailed one signs in", async () => {
    const a = await newAccount(ctx, "twofa");
    const email = `${a.handle}@mail.test`;
    const confirm = await mailTo(email, () => xrpc(ctx, "com.atproto.server.requestEmailConfirmation", { auth: a.bearer, body: {} }));
    expect((await xrpc(ctx, "com.atproto.server.confirmEmail", { auth: a.bearer, body: { email, token: tokenIn(confirm) } })).status).toBe(200);
    const update = await mailTo(email, () => xrpc(ctx, "com.atproto.server.requestEmailUpdate", { auth: a.bearer, body: {} }));
    expect((await xrpc(ctx, "com.atproto.server.updateEmail", { auth: a.bearer, body: { email, emailAuthFactor: true, token: tokenIn(update) } })).status).toBe(200);

    const c = await browser();
    const { page, base } = await open(c);
    const seen = smtp.messages().filter((m) => m.to.includes(email)).length;
    const asked = await post(c, page.body, { ...base(), action: "sign-in", identifier: a.handle, password: a.password });
    expect(asked.status).toBe(200);
    expect(asked.body).toContain('name="code"');
    const code = tokenIn(await smtp.next(email, seen));
    const wrong = await post(c, asked.body, { ...base(), action: "sign-in", identifier: a.handle, password: a.password, code: "AAAAA-AAAAA" });
    expect(wrong.body).toContain("That code is not right");
    expect(wrong.body).toContain('name="code"');
    const right = await post(c, wrong.body, { ...base(), action: "sign-in", identifier: a.handle, password: a.password, code });
    expect(right.status).toBe(200);
    expect(right.body).toContain('value="allow"');
    const allowed = await post(c, right.body, { ...base(), action: "allow", did: a.did });
    expect(allowed.status).toBe(303);
    expect(new URL(allowed.headers.get("location")!).searchParams.get("code")).toStartWith("cod-");
  });

  test('"stay signed in": the chooser next time, select needs no password; prompt=none answers at once; prompt=login forces the form', async () => {
    const a = await newAccount(ctx, "keep");
    const c = await browser();
    const first = await c.par();
    await c.signInAndAllow(first.body.request_uri, a.handle, a.password, { remember: true });

    const { page, base } = await open(c);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`@${a.handle}`);
    expect(page.body).toContain('value="select"');
    expect(page.body).not.toContain('name="password"');
    const selected = await post(c, page.body, { ...base(), action: "select", did: a.did });
    // Consent was given at the first sign-in: straight back to the client.
    expect(selected.status).toBe(303);
    expect(new URL(selected.headers.get("location")!).searchParams.get("code")).toStartWith("cod-");

    // prompt=none with the remembered, consented account: a code without any page.
    const { verifier, challenge } = pkce();
    const silent = await c.par({ prompt: "none" }, challenge);
    const answered = await c.page("GET", query(c, silent.body.request_uri));
    expect(answered.status).toBe(303);
    const back = new URL(answered.headers.get("location")!);
    expect(back.searchParams.get("iss")).toBe(publicUrl());
    const tokens = await c.token({ grant_type: "authorization_code", code: back.searchParams.get("code")!, code_verifier: verifier, redirect_uri: REDIRECT_URI });
    expect(tokens.body.sub).toBe(a.did);

    // prompt=none for a client the account never consented to: consent_required.
    const other = await browser(loopbackClientId(SCOPE, OTHER_REDIRECT), c.cookie);
    const unconsented = await other.par({ prompt: "none", redirect_uri: OTHER_REDIRECT });
    const refused = await other.page("GET", query(other, unconsented.body.request_uri));
    expect(refused.status).toBe(303);
    expect(refused.headers.get("location")).toStartWith(OTHER_REDIRECT);
    expect(new URL(refused.headers.get("location")!).searchParams.get("error")).toBe("consent_required");

    // prompt=login: the sign-in form even though the account is remembered.
    const forced = await open(c, { prompt: "login" });
    expect(forced.page.body).toContain('name="password"');
    expect(forced.page.body).not.toContain('value="select"');
  });

  test("without stay signed in the next authorization shows the sign-in form; prompt=none is login_required", async () => {
    const a = await newAccount(ctx, "once");
    const c = await browser();
    const first = await c.par();
    await c.signInAndAllow(first.body.request_uri, a.handle, a.password);
    const { page, base } = await open(c);
    expect(page.body).toContain('name="password"');
    expect(page.body).not.toContain('value="select"');
    // A hand-made select for the account, without its password, is sent back to the sign-in form.
    const sneaky = await post(c, page.body, { ...base(), action: "select", did: a.did });
    expect(sneaky.status).toBe(200);
    expect(sneaky.body).toContain("Please sign in again.");
    const silent = await c.par({ prompt: "none" });
    const answered = await c.page("GET", query(c, silent.body.request_uri));
    expect(answered.status).toBe(303);
    expect(new URL(answered.headers.get("location")!).searchParams.get("error")).toBe("login_required");
    // A brand-new browser is login_required too.
    const fresh = await browser();
    const none = await fresh.par({ prompt: "none" });
    expect(new URL((await fresh.page("GET", query(fresh, none.body.request_uri))).headers.get("location")!).searchParams.get("error")).toBe("login_required");
  });

  test("login_hint prefills the handle; an app password is refused on the sign-in page", async () => {
    const a = await newAccount(ctx, "hint");
    const c = await browser();
    const { page, base } = await open(c, { login_hint: a.did });
    expect(page.body).toContain(`value="${a.handle}"`);
    const appPassword = await xrpc(ctx, "com.atproto.server.createAppPassword", { auth: a.bearer, body: { name: "phone" } });
    expect(appPassword.status).toBe(200);
    const refused = await post(c, page.body, { ...base(), action: "sign-in", identifier: a.handle, password: appPassword.body.password });
    expect(refused.status).toBe(200);
    expect(refused.body).toContain("not an app password");
    expect(refused.body).not.toContain('value="allow"');
    expect((await ctx.db.db().selectFrom("oauth_device_account").select("did").where("did", "=", a.did).execute()).length).toBe(0);
  });

  test("a deactivated account's OAuth token is refused at once (no stale cached status); a taken-down account cannot sign in", async () => {
    const a = await newAccount(ctx, "deact");
    const c = await browser();
    const { access } = await c.login(a.handle, a.password);
    // A call that puts the session (and its status) in the cache.
    expect((await c.xrpc("com.atproto.server.getSession", access)).status).toBe(200);
    expect((await xrpc(ctx, "com.atproto.server.deactivateAccount", { auth: a.bearer, body: {} })).status).toBe(200);
    const post1 = await c.xrpc("com.atproto.repo.createRecord", access, {
      body: { repo: a.did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: "x", createdAt: new Date().toISOString() } },
    });
    expect([post1.status, post1.body.error]).toEqual([401, "AccountDeactivated"]);
    expect((await xrpc(ctx, "com.atproto.server.activateAccount", { auth: a.bearer, body: {} })).status).toBe(200);
    expect((await c.xrpc("com.atproto.server.getSession", access)).status).toBe(200);

    const t = await newAccount(ctx, "taken");
    await ctx.db.db().updateTable("account").set({ takedown_ref: "mod-9" }).where("did", "=", t.did).execute();
    const tc = await browser();
    const { page, base } = await open(tc);
    const refused = await post(tc, page.body, { ...base(), action: "sign-in", identifier: t.handle, password: t.password });
    expect(refused.body).toContain("taken down");
    expect(refused.body).not.toContain('value="allow"');
  });

  test("a deleted account's OAuth rows are gone and its token stops", async () => {
    const a = await newAccount(ctx, "gone");
    const c = await browser();
    const first = await c.par();
    await c.signInAndAllow(first.body.request_uri, a.handle, a.password, { remember: true });
    const { access } = await c.login(a.handle, a.password);
    expect((await c.xrpc("com.atproto.server.getSession", access)).status).toBe(200);
    await c.par(); // a pending request
    const email = `${a.handle}@mail.test`;
    const mail = await mailTo(email, () => xrpc(ctx, "com.atproto.server.requestAccountDelete", { auth: a.bearer, body: {} }));
    expect((await xrpc(ctx, "com.atproto.server.deleteAccount", { body: { did: a.did, password: a.password, token: tokenIn(mail) } })).status).toBe(200);
    const db = ctx.db.db();
    for (const table of ["oauth_request", "oauth_device_account", "oauth_authorized_client", "oauth_token"] as const) {
      const rows = await db.selectFrom(table).select("did").where("did", "=", a.did).execute();
      expect({ table, rows: rows.length }).toEqual({ table, rows: 0 });
    }
    const after = await c.xrpc("com.atproto.server.getSession", access);
    // The session's cached copy went with the rows (deleteAccountData drops the `oauth:` cache entries too).
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain('error="invalid_token"');
    // The device's chooser no longer lists the account.
    const { page } = await open(c);
    expect(page.body).not.toContain(a.handle);
  });
});
