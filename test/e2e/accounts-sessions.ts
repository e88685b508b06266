/** Sessions, app passwords and identity flows of the accounts e2e suite (registered by accounts-flow.ts). */
import { expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { type Flow, PASSWORD } from "./accounts-flow";
import { ADMIN_PASSWORD, type Node, accessToken, basic, bearer, claims, failure, plcData, startNode } from "./accounts-support";

export function registerSessionFlows(flow: Flow): void {
  test("log in by handle, by email (any case) and by DID", async () => {
    for (const identifier of [flow.alice.handle, "ALICE@example.com", flow.alice.did]) {
      const agent = flow.node.agent();
      const res = await agent.login({ identifier, password: PASSWORD });
      expect(res.data).toMatchObject({ did: flow.alice.did, handle: "alice.test", email: "alice@example.com", active: true });
      expect(res.data.didDoc).toMatchObject({ id: flow.alice.did });
      const session = await agent.com.atproto.server.getSession();
      expect(session.data).toMatchObject({ did: flow.alice.did, handle: "alice.test", emailConfirmed: false, active: true });
    }
    const bob = flow.node.agent();
    await bob.login({ identifier: "bob@example.com", password: PASSWORD });
    expect(bob.session?.did).toBe(flow.bob.did);
  });

  test("a wrong password or an unknown identifier: 401 AuthenticationRequired", async () => {
    const agent = flow.node.agent();
    for (const [identifier, password] of [
      ["alice.test", "wrong password"],
      ["alice@example.com", ""],
      ["nobody.test", PASSWORD],
      ["nobody@example.com", PASSWORD],
    ] as const) {
      expect(await failure(agent.login({ identifier, password }))).toEqual({ status: 401, error: "AuthenticationRequired" });
    }
  });

  test("refresh rotates; the old refresh token works in its grace window, then fails with ExpiredToken", async () => {
    const agent = flow.node.agent();
    await agent.login({ identifier: "alice.test", password: PASSWORD });
    const first = agent.session!.refreshJwt;
    const rotated = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(first) });
    expect(rotated.status).toBe(200);
    expect(rotated.body.did).toBe(flow.alice.did);
    const second: string = rotated.body.refreshJwt;
    expect(claims(second).jti).not.toBe(claims(first).jti);
    // A client that lost the answer retries with the old token and gets the same successor.
    const retry = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(first) });
    expect(retry.status).toBe(200);
    expect(claims(retry.body.refreshJwt).jti).toBe(claims(second).jti);
    // The new access token works.
    expect((await flow.node.call("com.atproto.server.getSession", { auth: bearer(rotated.body.accessJwt) })).status).toBe(200);
    // End of the grace window: what the clock would do, done to the row.
    await flow.node.ctx.db.db().updateTable("refresh_token").set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where("id", "=", String(claims(first).jti)).execute();
    await flow.node.ctx.cached.invalidate("session", String(claims(first).jti));
    const late = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(first) });
    expect([late.status, late.body.error]).toEqual([400, "ExpiredToken"]);
    // The successor lives on and rotates in turn.
    const next = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(second) });
    expect(next.status).toBe(200);
  });

  test("concurrent refreshes of one token agree on one successor", async () => {
    const agent = flow.node.agent();
    await agent.login({ identifier: "bob.test", password: PASSWORD });
    const auth = bearer(agent.session!.refreshJwt);
    const results = await Promise.all(Array.from({ length: 6 }, () => flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth })));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(new Set(results.map((r) => claims(r.body.refreshJwt).jti)).size).toBe(1);
  });

  test("bad tokens: expired → 400 ExpiredToken; forged or the wrong kind → 400 InvalidToken; none → 401", async () => {
    const agent = flow.node.agent();
    await agent.login({ identifier: "bob.test", password: PASSWORD });
    const { accessJwt, refreshJwt } = agent.session!;
    const sid = String(claims(accessJwt).sid);
    const getSession = (auth?: string) => flow.node.call("com.atproto.server.getSession", { auth });
    const cases: [string | undefined, number, string][] = [
      [bearer(await accessToken({ did: flow.bob.did, sid, aud: "did:web:localhost", expSecondsFromNow: -60 })), 400, "ExpiredToken"],
      [bearer(await accessToken({ did: flow.bob.did, sid, aud: "did:web:localhost", expSecondsFromNow: 600, secret: "another-secret-0123456789" })), 400, "InvalidToken"],
      [bearer(await accessToken({ did: flow.bob.did, sid, aud: "did:web:elsewhere.example", expSecondsFromNow: 600 })), 400, "InvalidToken"],
      [bearer(await accessToken({ did: flow.bob.did, sid, aud: "did:web:localhost", expSecondsFromNow: 600, scope: "com.atproto.refresh" })), 400, "InvalidToken"],
      [bearer(refreshJwt), 400, "InvalidToken"],
      [bearer("not.a.jwt"), 400, "InvalidToken"],
      [`${bearer(accessJwt)} extra`, 400, "InvalidToken"],
      [basic("admin", ADMIN_PASSWORD), 400, "InvalidToken"],
      [undefined, 401, "AuthenticationRequired"],
    ];
    for (const [auth, status, error] of cases) {
      const res = await getSession(auth);
      expect([res.status, res.body.error]).toEqual([status, error]);
    }
    // An access token is not a refresh token either.
    const res = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(accessJwt) });
    expect([res.status, res.body.error]).toEqual([400, "InvalidToken"]);
    expect((await getSession(bearer(accessJwt))).status).toBe(200);
  });

  test("the client refreshes by itself when its access token has expired", async () => {
    const agent = flow.node.agent();
    await agent.login({ identifier: "bob.test", password: PASSWORD });
    const stale = await accessToken({ did: flow.bob.did, sid: String(claims(agent.session!.accessJwt).sid), aud: "did:web:localhost", expSecondsFromNow: -1 });
    const oldRefresh = agent.session!.refreshJwt;
    agent.sessionManager.session = { ...agent.session!, accessJwt: stale };
    const res = await agent.com.atproto.server.getSession();
    expect(res.data.did).toBe(flow.bob.did);
    expect(agent.session!.refreshJwt).not.toBe(oldRefresh);
  });

  test("app passwords: made by a full session only, log in, list, privileged scope, revoke", async () => {
    const alice = flow.alice.agent;
    const made = await alice.com.atproto.server.createAppPassword({ name: "phone" });
    expect(made.data).toMatchObject({ name: "phone", privileged: false });
    expect(made.data.password).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    const privileged = await alice.com.atproto.server.createAppPassword({ name: "chat", privileged: true });
    expect(await failure(alice.com.atproto.server.createAppPassword({ name: "phone" }))).toEqual({ status: 400, error: "InvalidRequest" });

    const phone = new AtpAgent({ service: flow.node.url });
    await phone.login({ identifier: "alice.test", password: made.data.password });
    expect(claims(phone.session!.accessJwt).scope).toBe("com.atproto.appPass");
    expect((await phone.com.atproto.server.getSession()).data.did).toBe(flow.alice.did);
    // An app-password session may not mint app passwords or read invite codes (reference: 400 InvalidToken).
    expect(await failure(phone.com.atproto.server.createAppPassword({ name: "more" }))).toEqual({ status: 400, error: "InvalidToken" });
    expect(await failure(phone.com.atproto.server.getAccountInviteCodes())).toEqual({ status: 400, error: "InvalidToken" });
    const chat = new AtpAgent({ service: flow.node.url });
    await chat.login({ identifier: "alice@example.com", password: privileged.data.password });
    expect(claims(chat.session!.accessJwt).scope).toBe("com.atproto.appPassPrivileged");

    const listed = await phone.com.atproto.server.listAppPasswords();
    expect(listed.data.passwords.map((p) => [p.name, p.privileged]).sort()).toEqual([["chat", true], ["phone", false]]);
    expect(JSON.stringify(listed.data)).not.toContain(made.data.password);

    await alice.com.atproto.server.revokeAppPassword({ name: "phone" });
    const { accessJwt, refreshJwt } = phone.session!;
    const after = await flow.node.call("com.atproto.server.getSession", { auth: bearer(accessJwt) });
    expect([after.status, after.body.error]).toEqual([400, "ExpiredToken"]);
    const refreshed = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(refreshJwt) });
    expect([refreshed.status, refreshed.body.error]).toEqual([400, "ExpiredToken"]);
    expect(await failure(new AtpAgent({ service: flow.node.url }).login({ identifier: "alice.test", password: made.data.password }))).toEqual({
      status: 401,
      error: "AuthenticationRequired",
    });
    expect((await chat.com.atproto.server.getSession()).data.did).toBe(flow.alice.did);
  });

  test("deleteSession revokes the refresh token and the session's access tokens", async () => {
    const agent = flow.node.agent();
    await agent.login({ identifier: "bob.test", password: PASSWORD });
    const { accessJwt, refreshJwt } = agent.session!;
    expect((await flow.node.call("com.atproto.server.getSession", { auth: bearer(accessJwt) })).status).toBe(200);
    await agent.logout();
    expect(agent.session).toBeUndefined();
    const refreshed = await flow.node.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(refreshJwt) });
    expect([refreshed.status, refreshed.body.error]).toEqual([400, "ExpiredToken"]);
    const access = await flow.node.call("com.atproto.server.getSession", { auth: bearer(accessJwt) });
    expect([access.status, access.body.error]).toEqual([400, "ExpiredToken"]);
    // Other sessions of the account are untouched.
    expect((await flow.bob.agent.com.atproto.server.getSession()).data.did).toBe(flow.bob.did);
  });

  test("resolve handles over XRPC and over /.well-known/atproto-did", async () => {
    const agent = flow.node.agent();
    expect((await agent.com.atproto.identity.resolveHandle({ handle: "Alice.Test" })).data.did).toBe(flow.alice.did);
    expect((await agent.com.atproto.identity.resolveHandle({ handle: "bob.test" })).data.did).toBe(flow.bob.did);
    expect(await failure(agent.com.atproto.identity.resolveHandle({ handle: "nobody.test" }))).toEqual({ status: 400, error: "InvalidRequest" });
    const wellKnown = (host: string) => flow.node.ctx.handle(new Request(`http://${host}/.well-known/atproto-did`));
    const found = await wellKnown("alice.test");
    expect([found.status, await found.text()]).toEqual([200, flow.alice.did]);
    expect((await wellKnown("nobody.test")).status).toBe(404);
    expect((await wellKnown("example.com")).status).toBe(404);
  });

  test("updateHandle changes the PLC document, the database and the caches", async () => {
    const alice = flow.alice.agent;
    expect((await flow.node.ctx.identity.resolveAtprotoData(flow.alice.did))?.handle).toBe("alice.test");
    await alice.com.atproto.identity.updateHandle({ handle: "Alice2.test" });
    const data = await plcData(flow.plc.url, flow.alice.did);
    expect(data.alsoKnownAs).toEqual(["at://alice2.test"]);
    expect((await flow.node.ctx.identity.resolveAtprotoData(flow.alice.did))?.handle).toBe("alice2.test");
    expect((await alice.com.atproto.server.getSession()).data.handle).toBe("alice2.test");
    const agent = flow.node.agent();
    expect((await agent.com.atproto.identity.resolveHandle({ handle: "alice2.test" })).data.did).toBe(flow.alice.did);
    expect(await failure(agent.com.atproto.identity.resolveHandle({ handle: "alice.test" }))).toEqual({ status: 400, error: "InvalidRequest" });
    expect(await failure(alice.com.atproto.identity.updateHandle({ handle: "bob.test" }))).toEqual({ status: 400, error: "HandleNotAvailable" });
    expect(await failure(alice.com.atproto.identity.updateHandle({ handle: "x.test" }))).toEqual({ status: 400, error: "InvalidHandle" });
    expect(await failure(alice.com.atproto.identity.updateHandle({ handle: "alice.example" }))).toEqual({ status: 400, error: "InvalidHandle" });
    flow.alice.handle = "alice2.test";
  });

  test("getRecommendedDidCredentials names this server's key, endpoint and the account's signing key", async () => {
    const { data } = await flow.bob.agent.com.atproto.identity.getRecommendedDidCredentials();
    const signingKey = await flow.node.ctx.accounts.signingKey(flow.bob.did);
    const registered = await plcData(flow.plc.url, flow.bob.did);
    expect(data).toEqual({
      alsoKnownAs: ["at://bob.test"],
      verificationMethods: { atproto: signingKey.did() },
      rotationKeys: [registered.rotationKeys.at(-1)!],
      services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: flow.node.url } },
    });
  });

  test("getAccountInviteCodes lists the codes the admin made for the account", async () => {
    const made = await flow.node.call("com.atproto.server.createInviteCodes", {
      body: { codeCount: 2, useCount: 3, forAccounts: [flow.bob.did] },
      auth: basic("admin", ADMIN_PASSWORD),
    });
    expect(made.status).toBe(200);
    const { data } = await flow.bob.agent.com.atproto.server.getAccountInviteCodes();
    expect(data.codes.map((c) => c.code).sort()).toEqual([...made.body.codes[0].codes].sort());
    expect(data.codes[0]).toMatchObject({ available: 3, disabled: false, forAccount: flow.bob.did, createdBy: "admin", uses: [] });
    expect((await flow.alice.agent.com.atproto.server.getAccountInviteCodes()).data.codes).toEqual([]);
  });

  test("/.well-known/did.json is the server's did:web document", async () => {
    const doc = await (await fetch(`${flow.node.url}/.well-known/did.json`)).json();
    expect(doc).toEqual({
      "@context": ["https://www.w3.org/ns/did/v1"],
      id: "did:web:localhost",
      service: [{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: flow.node.url }],
    });
  });

  test("a revocation on one node holds on another node at once", async () => {
    if (!flow.backend.multiNode) return;
    const other = await startNode({ plcUrl: flow.plc.url, db: flow.backend.db(), cache: flow.backend.cache?.() });
    try {
      const agent = new AtpAgent({ service: flow.node.url });
      await agent.login({ identifier: "bob.test", password: PASSWORD });
      const { accessJwt, refreshJwt } = agent.session!;
      // The other node has seen (and, with a shared cache, cached) the session before the logout.
      for (let i = 0; i < 2; i++) expect((await other.call("com.atproto.server.getSession", { auth: bearer(accessJwt) })).status).toBe(200);
      if (flow.backend.cache) expect(await sessionCacheHits(other)).toBeGreaterThan(0);
      await agent.logout();
      const access = await other.call("com.atproto.server.getSession", { auth: bearer(accessJwt) });
      expect([access.status, access.body.error]).toEqual([400, "ExpiredToken"]);
      const refreshed = await other.call("com.atproto.server.refreshSession", { method: "POST", auth: bearer(refreshJwt) });
      expect([refreshed.status, refreshed.body.error]).toEqual([400, "ExpiredToken"]);
    } finally {
      await other.stop();
    }
  });
}

async function sessionCacheHits(node: Node): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  return Number(/^aurora_cache_hits_total\{category="session"\} (\d+)/m.exec(text)?.[1] ?? 0);
}
