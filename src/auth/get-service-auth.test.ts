/**
 * com.atproto.server.getServiceAuth through the server, with accounts made
 * over HTTP on a real PLC directory: the tokens verify with
 * @atproto/xrpc-server against the key the DID document names, and the
 * reference PDS's rules hold (aud, exp bounds, protected and privileged
 * methods, app passwords, taken-down and deactivated accounts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verifyJwt } from "@atproto/xrpc-server";
import type { TestContext } from "@test/support/context";
import { testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type Reply, type TestAccount, newAccount, serverConfig, xrpc } from "@test/xrpc/support";

const AUD = "did:web:appview.example#bsky_appview" as const;
let plc: TestPlc;
let ctx: TestContext;
let user: TestAccount;
const bearer: Record<"full" | "appPass" | "privileged", string> = {} as never;

const ask = (auth: string, params: Record<string, string | number>) =>
  xrpc(ctx, "com.atproto.server.getServiceAuth", { auth, query: new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString() });
const outcome = (res: Reply) => (res.status === 200 ? "ok" : `${res.status} ${res.body.error}`);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const keyOf = async (did: string): Promise<string> => (await ctx.identity.resolveAtprotoData(did, { forceRefresh: true }))!.signingKey!;

beforeAll(async () => {
  plc = await startPlc();
  ctx = await testContext(serverConfig(plc.url));
  user = await newAccount(ctx, "svc");
  bearer.full = user.bearer;
  for (const [name, privileged] of [["appPass", false], ["privileged", true]] as const) {
    const { password } = await ctx.accounts.createAppPassword(user.did, name, privileged);
    const login = await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: user.handle, password } });
    bearer[name] = `Bearer ${login.body.accessJwt}`;
  }
});
afterAll(async () => {
  await ctx?.close();
  await plc?.stop();
});

describe("getServiceAuth", () => {
  test("the token is signed with the account's repo key and verifies with @atproto/xrpc-server", async () => {
    const res = await ask(bearer.full, { aud: AUD, lxm: "app.bsky.feed.getTimeline" });
    expect(res.status).toBe(200);
    const payload = await verifyJwt(res.body.token, AUD, "app.bsky.feed.getTimeline", keyOf);
    expect(payload.iss as string).toBe(user.did);
    expect(payload.exp - nowSeconds()).toBeLessThanOrEqual(60);
    expect(typeof payload.jti).toBe("string");
    await expect(verifyJwt(res.body.token, AUD, "app.bsky.feed.getAuthorFeed", keyOf)).rejects.toThrow("lexicon method");
  });

  test("a method-less token has no lxm; a requested exp is kept", async () => {
    const exp = nowSeconds() + 50;
    const bare = await ask(bearer.full, { aud: "did:web:appview.example", exp });
    expect(bare.status).toBe(200);
    const payload = await verifyJwt(bare.body.token, "did:web:appview.example", null, keyOf);
    expect([payload.lxm, payload.exp]).toEqual([undefined, exp]);
    const long = await ask(bearer.full, { aud: AUD, lxm: "com.atproto.repo.uploadBlob", exp: nowSeconds() + 3000 });
    expect((await verifyJwt(long.body.token, AUD, "com.atproto.repo.uploadBlob", keyOf)).exp - nowSeconds()).toBeGreaterThan(2900);
  });

  test.each([
    ["exp in the past", { lxm: "app.bsky.feed.getTimeline", exp: -10 }, "400 BadExpiration"],
    ["exp over an hour ahead", { lxm: "app.bsky.feed.getTimeline", exp: 3700 }, "400 BadExpiration"],
    ["exp an hour ahead", { lxm: "app.bsky.feed.getTimeline", exp: 3590 }, "ok"],
    ["a method-less token over a minute ahead", { exp: 120 }, "400 BadExpiration"],
    ["a method-less token within a minute", { exp: 55 }, "ok"],
    ["exp not an integer", { lxm: "app.bsky.feed.getTimeline", exp: "soon" }, "400 InvalidRequest"],
    ["lxm not an NSID", { lxm: "not an nsid" }, "400 InvalidRequest"],
  ] as const)("%s → %s", async (_, p, expected) => {
    const params: Record<string, string | number> = { aud: AUD, ...(p as Record<string, string | number>) };
    if (typeof params.exp === "number") params.exp = nowSeconds() + params.exp;
    expect(outcome(await ask(bearer.full, params))).toBe(expected);
  });

  test.each(["did:web:appview.example", "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:web:appview.example#bsky_appview", "did:web:localhost%3A2583"])(
    "aud %s is accepted",
    async (aud) => expect(outcome(await ask(bearer.full, { aud }))).toBe("ok"),
  );

  test.each(["appview.example", "did:example:abc", "did:web:appview.example#", "did:web:a.example#x#y", "did:web:a.example:path", "did:plc:short"])(
    "aud %s is refused",
    async (aud) => expect(outcome(await ask(bearer.full, { aud }))).toBe("400 InvalidRequest"),
  );

  test("aud is required, and a token is needed", async () => {
    expect(outcome(await ask(bearer.full, {}))).toBe("400 InvalidRequest");
    expect(outcome(await xrpc(ctx, "com.atproto.server.getServiceAuth", { query: `aud=${AUD}` }))).toBe("401 AuthenticationRequired");
  });

  // Rows: lxm. Columns: full session, privileged app password, plain app password.
  test.each([
    ["app.bsky.feed.getTimeline", ["ok", "ok", "ok"]],
    ["chat.bsky.convo.sendMessage", ["ok", "ok", "400 InvalidRequest"]],
    ["chat.bsky.convo.listConvos", ["ok", "ok", "400 InvalidRequest"]],
    ["com.atproto.server.createAccount", ["ok", "ok", "400 InvalidRequest"]],
    ["com.atproto.server.createAppPassword", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    ["com.atproto.server.requestAccountDelete", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    ["com.atproto.server.updateEmail", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    ["com.atproto.identity.signPlcOperation", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    ["com.atproto.identity.updateHandle", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    ["com.atproto.admin.sendEmail", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    // NSIDs are matched case-insensitively, as the reference does: a different spelling is the same method.
    ["COM.ATPROTO.server.getSession", ["400 InvalidRequest", "400 InvalidRequest", "400 InvalidRequest"]],
    ["CHAT.bsky.convo.getLog", ["ok", "ok", "400 InvalidRequest"]],
  ] as const)("lxm %s: full, privileged, app password → %p", async (lxm, expected) => {
    const got = [];
    for (const kind of ["full", "privileged", "appPass"] as const) got.push(outcome(await ask(bearer[kind], { aud: AUD, lxm })));
    expect(got).toEqual([...expected]);
  });
});

describe("getServiceAuth for accounts that are not active", () => {
  test("a deactivated account gets tokens; a taken-down one only for createAccount (moving out)", async () => {
    const gone = await newAccount(ctx, "gone");
    const resting = await newAccount(ctx, "rest");
    const db = ctx.db.db();
    await db.updateTable("account").set({ takedown_ref: "mod-1" }).where("did", "=", gone.did).execute();
    await db.updateTable("account").set({ deactivated_at: new Date().toISOString() }).where("did", "=", resting.did).execute();
    // Their sessions from createAccount were never used, so no cached session holds the old status.
    expect(outcome(await ask(resting.bearer, { aud: AUD, lxm: "app.bsky.feed.getTimeline" }))).toBe("ok");
    expect(outcome(await ask(resting.bearer, { aud: "did:web:new-pds.example", lxm: "com.atproto.server.createAccount" }))).toBe("ok");
    expect(outcome(await ask(gone.bearer, { aud: AUD, lxm: "app.bsky.feed.getTimeline" }))).toBe("400 InvalidToken");
    expect(outcome(await ask(gone.bearer, { aud: AUD }))).toBe("400 InvalidToken");
    const move = await ask(gone.bearer, { aud: "did:web:new-pds.example", lxm: "com.atproto.server.createAccount" });
    expect(move.status).toBe(200);
    expect((await verifyJwt(move.body.token, "did:web:new-pds.example", "com.atproto.server.createAccount", keyOf)).iss as string).toBe(gone.did);
  });
});
