import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type TestAccount, newAccount, serverConfig, xrpc } from "@test/xrpc/support";
import { REDIRECT_URI, TestOAuthClient, ath, dpopKey, loopbackClientId, pkce, proof } from "./kit";

/**
 * The OAuth flow through the whole HTTP surface (the one request path) on
 * SQLite: metadata, PAR, the sign-in and consent forms, code exchange with
 * PKCE and DPoP, DPoP-bound XRPC calls, refresh rotation with reuse
 * detection, revocation, and each refusal the issue names.
 */
describe("OAuth authorization and resource server", () => {
  let plc: TestPlc;
  let ctx: TestContext;
  let alice: TestAccount;
  const send = (request: Request) => ctx.handle(request);
  const publicUrl = () => ctx.config.service.publicUrl;
  const client = async (clientId?: string) => new TestOAuthClient(send, "http://localhost", publicUrl(), await dpopKey(), clientId);

  beforeAll(async () => {
    plc = await startPlc();
    ctx = await testContext(serverConfig(plc.url));
    alice = await newAccount(ctx, "alice");
  });
  afterAll(async () => {
    await ctx?.close();
    await plc?.stop();
  });

  test("metadata documents name this server as issuer and resource, with PAR, PKCE and DPoP", async () => {
    const as: any = await (await ctx.request("/.well-known/oauth-authorization-server")).json();
    expect(as.issuer).toBe(publicUrl());
    expect(as.require_pushed_authorization_requests).toBe(true);
    expect(as.client_id_metadata_document_supported).toBe(true);
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    expect(as.dpop_signing_alg_values_supported).toContain("ES256");
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    const pr = await (await ctx.request("/.well-known/oauth-protected-resource")).json();
    expect(pr).toMatchObject({ resource: publicUrl(), authorization_servers: [publicUrl()] });
    expect((await ctx.request("/oauth/jwks")).status).toBe(200);
  });

  test("a public client signs in, posts, refreshes and revokes", async () => {
    const c = await client();
    const { access, refresh, sub, reply } = await c.login(alice.handle, alice.password);
    expect(sub).toBe(alice.did);
    expect(reply.body.token_type).toBe("DPoP");
    expect(reply.body.scope).toBe("atproto transition:generic");

    const session = await c.xrpc("com.atproto.server.getSession", access);
    expect(session.status).toBe(200);
    expect(session.body.did).toBe(alice.did);
    const post = await c.xrpc("com.atproto.repo.createRecord", access, {
      body: { repo: alice.did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: "via OAuth", createdAt: new Date().toISOString() } },
    });
    expect(post.status).toBe(200);
    const read = await xrpc(ctx, "com.atproto.repo.getRecord", { query: `repo=${alice.did}&collection=app.bsky.feed.post&rkey=${post.body.uri.split("/").pop()}` });
    expect(read.body.value.text).toBe("via OAuth");

    // Refresh rotates the refresh token; the old one, presented again, revokes the session.
    const rotated = await c.token({ grant_type: "refresh_token", refresh_token: refresh });
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(refresh);
    expect((await c.xrpc("com.atproto.server.getSession", rotated.body.access_token)).status).toBe(200);
    // The session moved to a new id: access tokens issued before the refresh stop working.
    expect((await c.xrpc("com.atproto.server.getSession", access)).status).toBe(401);
    const replay = await c.token({ grant_type: "refresh_token", refresh_token: refresh });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    const after = await c.xrpc("com.atproto.server.getSession", rotated.body.access_token);
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain('error="invalid_token"');

    // Revocation ends a session at once, access token included.
    const second = await c.login(alice.handle, alice.password);
    const revoked = await c.dpop("POST", "/oauth/revoke", { body: { client_id: c.clientId, token: second.refresh } });
    expect(revoked.status).toBe(200);
    expect((await c.xrpc("com.atproto.server.getSession", second.access)).status).toBe(401);
    expect((await c.token({ grant_type: "refresh_token", refresh_token: second.refresh })).body.error).toBe("invalid_grant");
  });

  test("a missing or wrong PKCE verifier is invalid_grant", async () => {
    const c = await client();
    for (const verifier of [undefined, pkce().verifier]) {
      const { challenge } = pkce();
      const par = await c.par({}, challenge);
      const back = await c.signInAndAllow(par.body.request_uri, alice.handle, alice.password);
      const code = back.searchParams.get("code")!;
      expect(back.searchParams.get("state")).toBe("st-1");
      expect(back.searchParams.get("iss")).toBe(publicUrl());
      const res = await c.token({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, ...(verifier ? { code_verifier: verifier } : {}) });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_grant");
    }
  });

  test("a code exchanged twice revokes the session it gave", async () => {
    const c = await client();
    const { verifier, challenge } = pkce();
    const par = await c.par({}, challenge);
    const code = (await c.signInAndAllow(par.body.request_uri, alice.handle, alice.password)).searchParams.get("code")!;
    const first = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
    expect(first.status).toBe(200);
    const again = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
    expect(again.body.error).toBe("invalid_grant");
    expect((await c.xrpc("com.atproto.server.getSession", first.body.access_token)).status).toBe(401);
  });

  test("DPoP: a replayed proof, a stale nonce, and no proof at all are refused", async () => {
    const c = await client();
    const { access } = await c.login(alice.handle, alice.password);
    const htu = `${publicUrl()}/xrpc/com.atproto.server.getSession`;
    const one = await proof(c.key, "GET", htu, { nonce: c.nonce, ath: ath(access) });
    const call = (dpop: string | null) =>
      ctx.handle(new Request("http://localhost/xrpc/com.atproto.server.getSession", { headers: { authorization: `DPoP ${access}`, ...(dpop ? { dpop } : {}) } }));
    expect((await call(one)).status).toBe(200);
    const replayed = await call(one);
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get("www-authenticate")).toContain('error="invalid_dpop_proof"');

    const stale = await call(await proof(c.key, "GET", htu, { nonce: "A".repeat(43), ath: ath(access) }));
    expect(stale.status).toBe(401);
    expect(stale.headers.get("www-authenticate")).toContain('error="use_dpop_nonce"');
    expect(stale.headers.get("dpop-nonce")).toBeTruthy();

    const none = await call(null);
    expect(none.status).toBe(401);

    // At the token endpoint the same refusals are OAuth JSON errors.
    const tokenProof = await proof(c.key, "POST", `${publicUrl()}/oauth/token`, { nonce: c.nonce });
    const post = () =>
      ctx.handle(new Request("http://localhost/oauth/token", { method: "POST", headers: { dpop: tokenProof, "content-type": "application/json" }, body: JSON.stringify({ client_id: c.clientId, grant_type: "refresh_token", refresh_token: "ref-unknown" }) }));
    expect(((await (await post()).json()) as any).error).toBe("invalid_grant");
    const again = await post();
    expect(again.status).toBe(400);
    expect(((await again.json()) as any).error).toBe("invalid_dpop_proof");
    const noNonce = await ctx.handle(
      new Request("http://localhost/oauth/par", { method: "POST", headers: { dpop: await proof(c.key, "POST", `${publicUrl()}/oauth/par`), "content-type": "application/json" }, body: "{}" }),
    );
    expect(noNonce.status).toBe(400);
    expect(((await noNonce.json()) as any).error).toBe("use_dpop_nonce");
    expect(noNonce.headers.get("dpop-nonce")).toBeTruthy();
  });

  test("a token used without its DPoP key is refused", async () => {
    const c = await client();
    const { access } = await c.login(alice.handle, alice.password);
    const asBearer = await ctx.request("/xrpc/com.atproto.server.getSession", { headers: { authorization: `Bearer ${access}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const thief = new TestOAuthClient(send, "http://localhost", publicUrl(), await dpopKey());
    thief.nonce = c.nonce;
    const stolen = await thief.xrpc("com.atproto.server.getSession", access);
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  test("a scope that does not cover the call is refused", async () => {
    const scope = "atproto repo:app.bsky.feed.like?action=create";
    const c = await client(loopbackClientId(scope));
    const { verifier, challenge } = pkce();
    const par = await c.par({ scope }, challenge);
    expect(par.status).toBe(201);
    const code = (await c.signInAndAllow(par.body.request_uri, alice.handle, alice.password)).searchParams.get("code")!;
    const tokens = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
    expect(tokens.body.scope).toBe(scope);
    const record = (collection: string) => ({ repo: alice.did, collection, record: { $type: collection, subject: { uri: `at://${alice.did}/app.bsky.feed.post/3kabcdefghij2`, cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm" }, text: "x", createdAt: new Date().toISOString() } });
    const post = await c.xrpc("com.atproto.repo.createRecord", tokens.body.access_token, { body: record("app.bsky.feed.post") });
    expect(post.status).toBe(403);
    const like = await c.xrpc("com.atproto.repo.createRecord", tokens.body.access_token, { body: record("app.bsky.feed.like") });
    expect(like.status).toBe(200);
    // A scope the client did not register is refused at PAR.
    const wider = await c.par({ scope: "atproto transition:generic" });
    expect(wider.body.error).toBe("invalid_scope");
  });

  test("over-long values and foreign ids are refused before they are stored or looked up", async () => {
    const c = await client();
    const long = await c.par({ state: "s".repeat(3000) });
    expect([long.status, long.body.error]).toEqual([400, "invalid_request"]);
    const query = `client_id=${encodeURIComponent(c.clientId)}&request_uri=${encodeURIComponent("urn:ietf:params:oauth:request_uri:req-\u0000x")}`;
    const page = await c.page("GET", `/oauth/authorize?${query}`);
    expect(page.status).toBe(400);
    expect(page.headers.get("content-type")).toStartWith("text/html");
  });

  test("an unregistered redirect URI is refused at PAR", async () => {
    const c = await client();
    const res = await c.par({ redirect_uri: "https://evil.example/callback" });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  test("the pages refuse a form from another origin and a request opened in another browser", async () => {
    const c = await client();
    const par = await c.par();
    const query = `client_id=${encodeURIComponent(c.clientId)}&request_uri=${encodeURIComponent(par.body.request_uri)}`;
    const page = await c.page("GET", `/oauth/authorize?${query}`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const csrf = /name="csrf"[^>]*value="([^"]*)"/.exec(page.body)?.[1] ?? "";
    const forged = await ctx.handle(
      new Request("http://localhost/oauth/authorize", {
        method: "POST",
        headers: { cookie: c.cookie!, origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf, request_uri: par.body.request_uri, client_id: c.clientId, action: "sign-in", identifier: alice.handle, password: alice.password }).toString(),
      }),
    );
    expect(forged.status).toBe(403);
    const other = new TestOAuthClient(send, "http://localhost", publicUrl(), c.key, c.clientId);
    expect((await other.page("GET", `/oauth/authorize?${query}`)).status).toBe(400);
  });

  test("a client_id on a private address is refused in production mode", async () => {
    const prod = await testContext(serverConfig(plc.url, { service: { devMode: false }, identity: { plcUrl: plc.url, allowPrivateAddresses: false } } as never));
    try {
      const c = new TestOAuthClient((r) => prod.handle(r), "http://localhost", prod.config.service.publicUrl, await dpopKey(), "https://127.0.0.1/client-metadata.json");
      const res = await c.par();
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_client");
      const named = new TestOAuthClient((r) => prod.handle(r), "http://localhost", prod.config.service.publicUrl, c.key, "https://localhost.localdomain/client-metadata.json");
      expect((await named.par()).body.error).toBe("invalid_client");
    } finally {
      await prod.close();
    }
  });
});
