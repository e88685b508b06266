import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type TestAccount, newAccount, serverConfig } from "@test/xrpc/support";
import { REDIRECT_URI, type Reply, SCOPE, TestOAuthClient, ath, dpopKey, hidden, loopbackClientId, pkce, proof } from "./kit";

/**
 * Hostile input to every OAuth route, on SQLite through the one request
 * path: wrong content types, broken JSON, arrays and numbers for strings,
 * repeated fields, oversized and endless bodies, odd characters, missing
 * fields, unsupported grants and request shapes at PAR and the token
 * endpoint; garbage links, cookies, CSRF tokens and actions at the
 * authorize pages; POSTs to the metadata documents; DPoP garbage at the
 * resource server. No answer is a 5xx; the AS endpoints answer OAuth JSON
 * (`{error, error_description}`) with a 4xx, the pages an error page or the
 * sign-in form; afterwards an existing session and a new sign-in still work.
 */
describe("OAuth routes under hostile input", () => {
  let plc: TestPlc;
  let ctx: TestContext;
  let alice: TestAccount;
  let bob: TestAccount;
  const send = (request: Request) => ctx.handle(request, "192.0.2.20");
  const publicUrl = () => ctx.config.service.publicUrl;
  const client = async (clientId?: string) => new TestOAuthClient(send, "http://localhost", publicUrl(), await dpopKey(), clientId);
  /** A session made before the hostile traffic, checked after it. */
  let before: { c: TestOAuthClient; access: string; refresh: string };
  const failures: string[] = [];

  /** An OAuth JSON refusal with a 4xx status (and `error` one of `errors`, when given). */
  const refusedJson = (what: string, res: Reply, errors?: string[]) => {
    const ok =
      res.status >= 400 &&
      res.status < 500 &&
      typeof res.body?.error === "string" &&
      typeof res.body?.error_description === "string" &&
      (errors === undefined || errors.includes(res.body.error));
    if (!ok) failures.push(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  };
  /** An HTML page (error page or form) with the given status; never JSON, never a 5xx. */
  const page = (what: string, res: Reply, status: number, contains?: string) => {
    const ok = res.status === status && typeof res.body === "string" && res.body.startsWith("<!doctype html>") && (contains === undefined || res.body.includes(contains));
    if (!ok) failures.push(`${what}: ${res.status} ${String(typeof res.body === "string" ? res.body : JSON.stringify(res.body)).slice(0, 300)}`);
  };

  /** A raw request to an AS endpoint with a valid DPoP proof (nonce fetched first); body and content type as given. */
  const raw = async (c: TestOAuthClient, path: string, body: RequestInit["body"] | null, type: string | null, extra: Record<string, string> = {}): Promise<Reply> => {
    if (!c.nonce) await c.dpop("POST", path, { body: {} });
    const headers: Record<string, string> = { ...extra, dpop: await proof(c.key, "POST", `${publicUrl()}${path}`, { nonce: c.nonce }) };
    if (type !== null) headers["content-type"] = type;
    const res = await send(new Request(`http://localhost${path}`, { method: "POST", headers, body }));
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    const fresh = res.headers.get("dpop-nonce");
    if (fresh) c.nonce = fresh;
    return { status: res.status, headers: res.headers, body: parsed };
  };

  beforeAll(async () => {
    plc = await startPlc();
    ctx = await testContext(serverConfig(plc.url, { log: { level: "error" } }));
    [alice, bob] = await Promise.all([newAccount(ctx, "alice"), newAccount(ctx, "bob")]);
    const c = await client();
    before = { c, ...(await c.login(alice.handle, alice.password)) };
  });
  beforeEach(() => {
    failures.length = 0;
  });
  afterAll(async () => {
    await ctx?.close();
    await plc?.stop();
  });

  test("PAR, token and revoke: bad bodies and content types are OAuth JSON 4xx", async () => {
    const c = await client();
    const valid = { client_id: c.clientId, response_type: "code", redirect_uri: REDIRECT_URI, scope: SCOPE, state: "s", code_challenge: pkce().challenge, code_challenge_method: "S256" };
    const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
    const bodies: [string, RequestInit["body"] | null, string | null][] = [
      ["no body, no type", null, null],
      ["text/plain", form(valid), "text/plain"],
      ["multipart", "--x\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nx\r\n--x--", "multipart/form-data; boundary=x"],
      ["JSON type, form body", form(valid), "application/json"],
      ["invalid JSON", "{\"client_id\":", "application/json"],
      ["JSON array", JSON.stringify([valid]), "application/json"],
      ["JSON string", "\"client_id\"", "application/json"],
      ["JSON null", "null", "application/json"],
      ["JSON number for a string", JSON.stringify({ ...valid, state: 5 }), "application/json"],
      ["JSON array for a string", JSON.stringify({ ...valid, client_id: [c.clientId] }), "application/json"],
      ["JSON object for a string", JSON.stringify({ ...valid, scope: { atproto: true } }), "application/json"],
      ["JSON boolean", JSON.stringify({ ...valid, code_challenge: true }), "application/json"],
      ["JSON __proto__", `{"__proto__":{"client_id":"x"},"client_id":"${c.clientId}"}`, "application/json"],
      ["repeated form field", `${form(valid)}&client_id=${encodeURIComponent(c.clientId)}`, "application/x-www-form-urlencoded"],
      ["form field named like a prototype key, twice", `${form(valid)}&constructor=a&constructor=b`, "application/x-www-form-urlencoded"],
      ["broken percent-encoding", "client_id=%zz&%", "application/x-www-form-urlencoded"],
      ["1 MB form", form({ ...valid, state: "x".repeat(1024 * 1024) }), "application/x-www-form-urlencoded"],
      ["1 MB JSON", JSON.stringify({ ...valid, login_hint: "y".repeat(1024 * 1024) }), "application/json"],
      ["binary", crypto.getRandomValues(new Uint8Array(4096)), "application/x-www-form-urlencoded"],
      ["BOM and NUL", "\ufeff\u0000client_id=\u0000", "application/x-www-form-urlencoded"],
      ["empty form", "", "application/x-www-form-urlencoded"],
      ["empty JSON object", "{}", "application/json"],
      ["missing client_id", form({ ...valid, client_id: "" }), "application/x-www-form-urlencoded"],
      ["garbage client_id", form({ ...valid, client_id: "\u0001\u202e🙂" }), "application/x-www-form-urlencoded"],
      ["huge client_id", form({ ...valid, client_id: `https://${"a".repeat(20_000)}.example/` }), "application/x-www-form-urlencoded"],
      ["client_id not a URL", form({ ...valid, client_id: "javascript:alert(1)" }), "application/x-www-form-urlencoded"],
    ];
    for (const path of ["/oauth/par", "/oauth/token", "/oauth/revoke"]) {
      for (const [name, body, type] of bodies) refusedJson(`${path} ${name}`, await raw(c, path, body, type));
    }
    expect(failures).toEqual([]);
  });

  test("a body without a length is not read past the limit", async () => {
    const c = await client();
    for (const path of ["/oauth/par", "/oauth/token", "/oauth/revoke"]) {
      let pulled = 0;
      // Up to 64 MiB on offer, a chunk at a time: the endpoint must stop reading long before that.
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= 64 * 1024 * 1024) return controller.close();
          pulled += 64 * 1024;
          controller.enqueue(new TextEncoder().encode(`a=${"b".repeat(64 * 1024 - 2)}`));
        },
      });
      const res = await raw(c, path, endless, "application/x-www-form-urlencoded");
      refusedJson(`${path} endless body`, res, ["invalid_request"]);
      expect(pulled).toBeLessThan(1024 * 1024);
    }
    expect(failures).toEqual([]);
  });

  test("PAR: unsupported request shapes are refused with the right error", async () => {
    const c = await client();
    const cases: [string, Record<string, string>, string[]][] = [
      ["request object", { request: "eyJhbGciOiJub25lIn0.e30." }, ["request_not_supported", "invalid_request"]],
      ["request_uri", { request_uri: "urn:ietf:params:oauth:request_uri:req-x" }, ["invalid_request"]],
      ["response_type token", { response_type: "token" }, ["unsupported_response_type", "invalid_request"]],
      ["response_type code id_token", { response_type: "code id_token" }, ["unsupported_response_type", "invalid_request"]],
      ["no response_type", { response_type: "" }, ["invalid_request", "unsupported_response_type"]],
      ["code_challenge_method plain", { code_challenge_method: "plain", code_challenge: "a".repeat(43) }, ["invalid_request"]],
      ["code_challenge_method unknown", { code_challenge_method: "S512" }, ["invalid_request"]],
      ["no code_challenge", { code_challenge: "" }, ["invalid_request"]],
      ["short code_challenge", { code_challenge: "abc" }, ["invalid_request"]],
      ["code_challenge with bad characters", { code_challenge: `${"a".repeat(42)}=` }, ["invalid_request"]],
      ["code_challenge too long", { code_challenge: "a".repeat(129) }, ["invalid_request"]],
      ["unicode code_challenge", { code_challenge: "é".repeat(43) }, ["invalid_request"]],
      ["no atproto scope", { scope: "transition:generic" }, ["invalid_scope"]],
      ["unregistered scope", { scope: "atproto transition:chat.bsky" }, ["invalid_scope"]],
      ["permission set", { scope: "atproto include:com.example.set" }, ["invalid_scope"]],
      ["control characters in scope", { scope: "atproto\u0000transition:generic" }, ["invalid_scope", "invalid_request"]],
      ["huge scope", { scope: `atproto ${"repo:a.b.c ".repeat(2000)}` }, ["invalid_scope", "invalid_request"]],
      ["redirect_uri elsewhere", { redirect_uri: "https://evil.example/cb" }, ["invalid_request"]],
      ["redirect_uri garbage", { redirect_uri: "\u0000:\u202e" }, ["invalid_request"]],
      ["response_mode form_post", { response_mode: "form_post" }, ["invalid_request"]],
      ["response_mode garbage", { response_mode: "🙂" }, ["invalid_request"]],
      ["unknown prompt", { prompt: "create" }, ["invalid_request"]],
      ["garbage prompt", { prompt: "\u0001" }, ["invalid_request"]],
      ["dpop_jkt of another key", { dpop_jkt: "A".repeat(43) }, ["invalid_dpop_proof", "invalid_request"]],
      ["authorization_details", { authorization_details: "[{\"type\":\"x\"}]" }, ["invalid_request"]],
      ["claims", { claims: "{}" }, ["invalid_request"]],
      ["client assertion from a public client", { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: "a.b.c" }, ["invalid_client"]],
    ];
    for (const [name, extra, errors] of cases) refusedJson(`PAR ${name}`, await c.par(extra), errors);
    expect(failures).toEqual([]);
  });

  test("token: unknown grants, missing and mistyped fields, bad PKCE shapes", async () => {
    const c = await client();
    const { verifier, challenge } = pkce();
    const par = await c.par({}, challenge);
    const code = (await c.signInAndAllow(par.body.request_uri, alice.handle, alice.password)).searchParams.get("code")!;
    const cases: [string, Record<string, string>, string[]][] = [
      ["no grant_type", {}, ["invalid_request"]],
      ["password grant", { grant_type: "password", username: alice.handle, password: alice.password }, ["unsupported_grant_type"]],
      ["client_credentials", { grant_type: "client_credentials" }, ["unsupported_grant_type"]],
      ["implicit-looking grant", { grant_type: "token" }, ["unsupported_grant_type"]],
      ["device code grant", { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: "x" }, ["unsupported_grant_type"]],
      ["huge unicode grant_type", { grant_type: "🙂".repeat(5000) }, ["unsupported_grant_type"]],
      ["no code", { grant_type: "authorization_code", code_verifier: verifier }, ["invalid_request"]],
      ["unknown code", { grant_type: "authorization_code", code: "cod-nope", code_verifier: verifier }, ["invalid_grant"]],
      ["control-char code", { grant_type: "authorization_code", code: "\u0001\u0002", code_verifier: verifier }, ["invalid_grant"]],
      ["no refresh_token", { grant_type: "refresh_token" }, ["invalid_request"]],
      ["unknown refresh_token", { grant_type: "refresh_token", refresh_token: "ref-\u202e" }, ["invalid_grant"]],
      ["access token as refresh token", { grant_type: "refresh_token", refresh_token: before.access }, ["invalid_grant"]],
      ["another client's refresh token", { grant_type: "refresh_token", refresh_token: before.refresh, client_id: loopbackClientId(SCOPE, "http://127.0.0.1:9/other") }, ["invalid_grant", "invalid_dpop_proof"]],
    ];
    for (const [name, body, errors] of cases) refusedJson(`token ${name}`, await c.token(body), errors);
    // PKCE shapes: each is refused before the code is spent, so the real verifier still works after them.
    for (const bad of ["", "short", "a".repeat(129), `${"a".repeat(42)}!`, "é".repeat(43), verifier.toUpperCase(), ` ${verifier}`]) {
      refusedJson(`token verifier ${JSON.stringify(bad).slice(0, 20)}`, await c.token({ grant_type: "authorization_code", code, code_verifier: bad, redirect_uri: REDIRECT_URI }), ["invalid_grant"]);
      if (failures.length) break;
    }
    expect(failures).toEqual([]);
  });

  test("revoke: missing token or client, unknown and garbage tokens", async () => {
    const c = await client();
    const revoke = (body: Record<string, string>) => c.dpop("POST", "/oauth/revoke", { body });
    refusedJson("revoke without token", await revoke({ client_id: c.clientId }), ["invalid_request"]);
    refusedJson("revoke without client_id", await revoke({ token: before.refresh }), ["invalid_request"]);
    // Unknown tokens are not an error (RFC 7009 §2.2), whatever they look like.
    for (const token of ["ref-unknown", "e30.e30.e30", "a.b.c", "\u0001", "x".repeat(10_000), alice.accessJwt]) {
      const res = await revoke({ client_id: c.clientId, token });
      if (res.status !== 200) failures.push(`revoke ${token.slice(0, 20)}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    // Another client cannot revoke alice's session.
    const other = await client(loopbackClientId(SCOPE, "http://127.0.0.1:9/other"));
    expect((await other.dpop("POST", "/oauth/revoke", { body: { client_id: other.clientId, token: before.refresh } })).status).toBe(200);
    expect((await before.c.xrpc("com.atproto.server.getSession", before.access)).status).toBe(200);
    // A DPoP header that is sent must be valid.
    const badProof = await send(new Request("http://localhost/oauth/revoke", { method: "POST", headers: { dpop: "garbage", "content-type": "application/json" }, body: JSON.stringify({ client_id: c.clientId, token: "ref-x" }) }));
    refusedJson("revoke with a garbage DPoP header", { status: badProof.status, headers: badProof.headers, body: await badProof.json() }, ["invalid_dpop_proof"]);
    expect(failures).toEqual([]);
  });

  test("AS endpoints: a missing, garbage or wrong DPoP proof is OAuth JSON", async () => {
    for (const path of ["/oauth/par", "/oauth/token"]) {
      const headerCases: Record<string, string>[] = [
        {},
        { dpop: "garbage" },
        { dpop: "a.b.c" },
        { dpop: "e30.e30.e30" },
        { dpop: "x".repeat(20_000) },
        { dpop: `${await proof((await dpopKey()), "POST", `${publicUrl()}${path}`)}, ${await proof(await dpopKey(), "POST", `${publicUrl()}${path}`)}` },
        { dpop: await proof(await dpopKey(), "GET", `${publicUrl()}${path}`) },
        { dpop: await proof(await dpopKey(), "POST", `https://evil.example${path}`) },
        { dpop: await proof(await dpopKey(), "POST", `${publicUrl()}${path}`, { iat: 1 }) },
      ];
      for (const headers of headerCases) {
        const res = await send(new Request(`http://localhost${path}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" }));
        const body = await res.json().catch(() => null);
        refusedJson(`${path} dpop ${JSON.stringify(headers).slice(0, 60)}`, { status: res.status, headers: res.headers, body }, ["invalid_dpop_proof", "use_dpop_nonce", "invalid_request"]);
        if (!res.headers.get("dpop-nonce")) failures.push(`${path}: no DPoP-Nonce on a refusal`);
      }
    }
    expect(failures).toEqual([]);
  });

  test("metadata documents and jwks refuse POST with 405; unknown OAuth paths are 404", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource", "/oauth/jwks"]) {
      const res = await ctx.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect({ path, status: res.status }).toEqual({ path, status: 405 });
      expect((await ctx.request(path, { method: "HEAD" })).status).toBe(200);
    }
    for (const path of ["/oauth/par", "/oauth/token", "/oauth/revoke"]) {
      const res = await ctx.request(path);
      expect({ path, status: res.status }).toEqual({ path, status: 405 });
    }
    expect((await ctx.request("/oauth/authorize", { method: "PUT" })).status).toBe(405);
    for (const path of ["/oauth/", "/oauth/nope", "/oauth/par/", "/.well-known/oauth-authorization-server/x"]) {
      expect((await ctx.request(path)).status).toBeLessThan(500);
    }
  });

  test("GET /oauth/authorize: missing, garbage, foreign and expired requests are error pages", async () => {
    const c = await client();
    const par = await c.par();
    const uri = par.body.request_uri as string;
    const get = (query: string, cookie?: string) => {
      const browser = new TestOAuthClient(send, "http://localhost", publicUrl(), c.key, c.clientId);
      browser.cookie = cookie;
      return browser.page("GET", `/oauth/authorize${query}`);
    };
    const id = encodeURIComponent(c.clientId);
    page("no query", await get(""), 400);
    page("no request_uri", await get(`?client_id=${id}`), 400);
    page("no client_id", await get(`?request_uri=${encodeURIComponent(uri)}`), 400);
    page("garbage request_uri", await get(`?client_id=${id}&request_uri=%00%ff%fe`), 400);
    page("unknown request_uri", await get(`?client_id=${id}&request_uri=${encodeURIComponent("urn:ietf:params:oauth:request_uri:req-nope")}`), 400);
    page("huge request_uri", await get(`?client_id=${id}&request_uri=${encodeURIComponent(`urn:ietf:params:oauth:request_uri:${"r".repeat(50_000)}`)}`), 400);
    page("wrong client_id", await get(`?client_id=${encodeURIComponent(loopbackClientId(SCOPE, "http://127.0.0.1:9/other"))}&request_uri=${encodeURIComponent(uri)}`), 400);
    page("garbage client_id", await get(`?client_id=%E2%80%AE%01&request_uri=${encodeURIComponent(uri)}`), 400);
    page("repeated parameters", await get(`?client_id=x&client_id=${id}&request_uri=${encodeURIComponent(uri)}`), 400);
    // Bad device cookies are ignored: the browser gets a new device (the request is still unbound, so the page opens).
    for (const cookie of ["aurora-device=", "aurora-device=garbage", "aurora-device=dev-x.y", `aurora-device=${"a".repeat(500)}.b`, "aurora-device=.", "aurora-device=%00.%00", "a=b; aurora-device=dev-\u00e9.x"]) {
      const fresh = await c.par();
      const res = await get(`?client_id=${id}&request_uri=${encodeURIComponent(fresh.body.request_uri)}`, cookie);
      page(`cookie ${cookie.slice(0, 30)}`, res, 200, 'name="password"');
      if (!res.headers.get("set-cookie")?.startsWith("aurora-device=dev-")) failures.push(`cookie ${cookie.slice(0, 30)}: no new device cookie`);
    }
    // An expired request.
    const old = await c.par();
    await ctx.db.db().updateTable("oauth_request").set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where("id", "=", old.body.request_uri.split(":").pop()).execute();
    page("expired request", await get(`?client_id=${id}&request_uri=${encodeURIComponent(old.body.request_uri)}`), 400, "expired");
    // A request already answered (its code issued) cannot be opened again.
    const done = await c.par();
    await c.signInAndAllow(done.body.request_uri, alice.handle, alice.password);
    page("used request", await c.page("GET", `/oauth/authorize?client_id=${id}&request_uri=${encodeURIComponent(done.body.request_uri)}`), 400);
    expect(failures).toEqual([]);
  });

  test("POST /oauth/authorize: bad forms, CSRF, actions and accounts are refused without granting anything", async () => {
    const c = await client();
    // prompt=consent: alice granted this client before, and the consent page is where the allow/deny forms are.
    const par = await c.par({ prompt: "consent" });
    const uri = par.body.request_uri as string;
    const opened = await c.page("GET", `/oauth/authorize?client_id=${encodeURIComponent(c.clientId)}&request_uri=${encodeURIComponent(uri)}`);
    expect(opened.status).toBe(200);
    const base = { csrf: hidden(opened.body, "csrf"), request_uri: uri, client_id: c.clientId };
    const post = (form: Record<string, string>) => c.page("POST", "/oauth/authorize", form);
    const rawPost = async (body: RequestInit["body"], headers: Record<string, string>) => {
      const res = await send(new Request("http://localhost/oauth/authorize", { method: "POST", headers: { cookie: c.cookie!, origin: new URL(publicUrl()).origin, ...headers }, body }));
      return { status: res.status, headers: res.headers, body: await res.text() } as Reply;
    };

    page("JSON body", await rawPost(JSON.stringify({ ...base, action: "sign-in" }), { "content-type": "application/json" }), 400);
    page("no content type", await rawPost(new URLSearchParams({ ...base, action: "sign-in" }).toString(), {}), 400);
    page("1 MB form", await rawPost(new URLSearchParams({ ...base, action: "sign-in", identifier: "x".repeat(1024 * 1024) }).toString(), { "content-type": "application/x-www-form-urlencoded" }), 400);
    page("CSRF missing", await post({ request_uri: uri, client_id: c.clientId, action: "sign-in", identifier: alice.handle, password: alice.password }), 403);
    page("CSRF wrong", await post({ ...base, csrf: "A".repeat(base.csrf.length), action: "sign-in", identifier: alice.handle, password: alice.password }), 403);
    page("CSRF unicode", await post({ ...base, csrf: "é".repeat(base.csrf.length / 2), action: "sign-in", identifier: alice.handle, password: alice.password }), 403);
    page("no origin", await rawPost(new URLSearchParams({ ...base, action: "sign-in", identifier: alice.handle, password: alice.password }).toString(), { "content-type": "application/x-www-form-urlencoded", origin: "null" }), 403);
    page("unknown action", await post({ ...base, action: "grant-everything" }), 400);
    page("no action", await post(base), 400);
    page("no cookie", await new TestOAuthClient(send, "http://localhost", publicUrl(), c.key, c.clientId).page("POST", "/oauth/authorize", { ...base, action: "allow", did: alice.did }), 400);
    page("garbage cookie", await rawPost(new URLSearchParams({ ...base, action: "allow", did: alice.did }).toString(), { "content-type": "application/x-www-form-urlencoded", cookie: "aurora-device=dev-x.y" }), 400);
    page("garbage request_uri", await post({ ...base, request_uri: "\u0000", action: "sign-in" }), 400);
    page("wrong client_id", await post({ ...base, client_id: loopbackClientId(SCOPE, "http://127.0.0.1:9/other"), action: "sign-in" }), 400);
    // Nobody is signed in on this device: select and allow for any account send back to the sign-in form.
    page("select, not signed in", await post({ ...base, action: "select", did: alice.did }), 200, "Please sign in again.");
    page("allow, not signed in", await post({ ...base, action: "allow", did: alice.did }), 200, "Please sign in again.");
    page("deny, not signed in", await post({ ...base, action: "deny", did: alice.did }), 200, "Please sign in again.");
    page("select, garbage did", await post({ ...base, action: "select", did: "\u0001🙂".repeat(1000) }), 200, "Please sign in again.");
    // Sign-in fields: empty, wrong, odd characters.
    page("sign-in, empty", await post({ ...base, action: "sign-in" }), 200, "Enter your handle");
    page("sign-in, wrong password", await post({ ...base, action: "sign-in", identifier: alice.handle, password: "nope" }), 200, "Wrong handle or password.");
    page("sign-in, unknown handle", await post({ ...base, action: "sign-in", identifier: "\u202e\u0000🙂", password: "x" }), 200, "Wrong handle or password.");
    page("sign-in, huge password", await post({ ...base, action: "sign-in", identifier: alice.handle, password: "p".repeat(10_000) }), 200, "Wrong handle or password.");
    // Alice signs in (consent page); the form for bob, who is not signed in here, is refused.
    const consent = await post({ ...base, action: "sign-in", identifier: alice.handle, password: alice.password });
    page("alice signs in", consent, 200, 'value="allow"');
    const next = { ...base, csrf: hidden(consent.body, "csrf") };
    page("allow for bob", await post({ ...next, action: "allow", did: bob.did }), 200, "Please sign in again.");
    page("select bob", await post({ ...next, action: "select", did: bob.did }), 200, "Please sign in again.");
    expect(await ctx.db.db().selectFrom("oauth_authorized_client").selectAll().where("did", "=", bob.did).execute()).toEqual([]);
    const request = await ctx.db.db().selectFrom("oauth_request").select(["did", "code"]).where("id", "=", uri.split(":").pop()!).executeTakeFirst();
    expect(request).toEqual({ did: null, code: null });
    // The real allow still works after all that.
    const allowed = await post({ ...next, action: "allow", did: alice.did });
    expect(allowed.status).toBe(303);
    expect(new URL(allowed.headers.get("location")!).searchParams.get("code")).toStartWith("cod-");
    expect(failures).toEqual([]);
  });

  test("resource server: DPoP garbage, a session JWT under DPoP, an OAuth token as Bearer", async () => {
    const { access } = before;
    const htu = `${publicUrl()}/xrpc/com.atproto.server.getSession`;
    const call = async (headers: Record<string, string>) => {
      const res = await send(new Request("http://localhost/xrpc/com.atproto.server.getSession", { headers }));
      const body = (await res.json().catch(() => null)) as { error?: string; message?: string } | null;
      return { status: res.status, www: res.headers.get("www-authenticate") ?? "", nonce: res.headers.get("dpop-nonce"), error: body?.error };
    };
    const proofFor = (token: string, opts: { htm?: string; htu?: string; key?: Awaited<ReturnType<typeof dpopKey>> } = {}) =>
      proof(opts.key ?? before.c.key, opts.htm ?? "GET", opts.htu ?? htu, { nonce: before.c.nonce, ath: ath(token) });
    const cases: [string, Record<string, string>, number][] = [
      ["no DPoP header", { authorization: `DPoP ${access}` }, 401],
      ["garbage DPoP header", { authorization: `DPoP ${access}`, dpop: "garbage" }, 401],
      ["three dots", { authorization: `DPoP ${access}`, dpop: "..." }, 401],
      ["huge DPoP header", { authorization: `DPoP ${access}`, dpop: "x".repeat(30_000) }, 401],
      ["two proofs", { authorization: `DPoP ${access}`, dpop: `${await proofFor(access)},${await proofFor(access)}` }, 401],
      ["proof for another method", { authorization: `DPoP ${access}`, dpop: await proofFor(access, { htm: "POST" }) }, 401],
      ["proof for another URL", { authorization: `DPoP ${access}`, dpop: await proofFor(access, { htu: `${publicUrl()}/xrpc/com.atproto.repo.createRecord` }) }, 401],
      ["proof without ath", { authorization: `DPoP ${access}`, dpop: await proof(before.c.key, "GET", htu, { nonce: before.c.nonce }) }, 401],
      ["proof for another token", { authorization: `DPoP ${access}`, dpop: await proofFor(`${access}x`) }, 401],
      ["garbage token", { authorization: "DPoP a.b.c", dpop: await proofFor("a.b.c") }, 401],
      ["DPoP scheme, no token", { authorization: "DPoP", dpop: await proofFor("") }, 400],
      ["DPoP scheme with a session JWT", { authorization: `DPoP ${alice.accessJwt}`, dpop: await proofFor(alice.accessJwt) }, 401],
      ["DPoP scheme with a refresh JWT", { authorization: `DPoP ${alice.refreshJwt}`, dpop: await proofFor(alice.refreshJwt) }, 401],
      ["OAuth token as Bearer", { authorization: `Bearer ${access}` }, 401],
      ["OAuth token as Bearer with a proof", { authorization: `Bearer ${access}`, dpop: await proofFor(access) }, 401],
      ["refresh token under DPoP", { authorization: `DPoP ${before.refresh}`, dpop: await proofFor(before.refresh) }, 401],
      ["lower-case scheme", { authorization: `dpop ${access}`, dpop: "garbage" }, 401],
    ];
    for (const [name, headers, status] of cases) {
      const res = await call(headers);
      if (res.status !== status || typeof res.error !== "string") failures.push(`${name}: ${res.status} ${res.error}`);
      if (headers.authorization?.toLowerCase().startsWith("dpop ") && res.status === 401 && !res.www.startsWith("DPoP")) failures.push(`${name}: WWW-Authenticate ${res.www}`);
    }
    // The session JWT under the DPoP scheme says why: it is not an OAuth token.
    const jwtAsDpop = await call({ authorization: `DPoP ${alice.accessJwt}`, dpop: await proofFor(alice.accessJwt) });
    expect(jwtAsDpop.www).toContain('error="invalid_token"');
    expect(failures).toEqual([]);
  });

  test("afterwards: the earlier session still works and refreshes, and a new sign-in succeeds", async () => {
    const { c, access, refresh } = before;
    expect((await c.xrpc("com.atproto.server.getSession", access)).status).toBe(200);
    const rotated = await c.token({ grant_type: "refresh_token", refresh_token: refresh });
    expect(rotated.status).toBe(200);
    const fresh = await (await client()).login(bob.handle, bob.password);
    expect(fresh.sub).toBe(bob.did);
    expect((await ctx.request("/xrpc/com.atproto.server.describeServer")).status).toBe(200);
  });
});
