import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { xrpc } from "@test/xrpc/support";
import { type ProxyFixture, call, startProxyFixture } from "./support";

let fx: ProxyFixture;
let appview: ProxyFixture["appview"];
let ctx: ProxyFixture["ctx"];
let proxy: ProxyFixture["proxy"];
let handle: ProxyFixture["handle"];
let alice: ProxyFixture["alice"];

beforeAll(async () => {
  fx = await startProxyFixture();
  ({ appview, ctx, proxy, handle, alice } = fx);
});

afterAll(() => fx?.stop());

const last = (nsid: string) => fx.last(nsid);

describe("targets and service auth", () => {
  test("app.bsky.* goes to the configured AppView with a verified token: iss the account, aud the AppView, lxm the method", async () => {
    const res = await call(handle, "app.bsky.actor.getProfile", { query: "actor=bob.test", auth: alice.bearer });
    expect(res.status).toBe(200);
    expect(res.body.nsid).toBe("app.bsky.actor.getProfile");
    const got = last("app.bsky.actor.getProfile");
    expect(got.path).toBe("/xrpc/app.bsky.actor.getProfile?actor=bob.test");
    expect(got.claims).toMatchObject({ iss: alice.did, aud: appview.did, lxm: "app.bsky.actor.getProfile" });
    expect(got.claims!.exp - Date.now() / 1000).toBeLessThanOrEqual(60);
    expect(got.claims!.jti).toBeString();
  });

  test("each call has a fresh token (its own jti)", async () => {
    await call(handle, "app.bsky.feed.getTimeline", { auth: alice.bearer });
    await call(handle, "app.bsky.feed.getTimeline", { auth: alice.bearer });
    const [a, b] = appview.calls("app.bsky.feed.getTimeline").slice(-2);
    expect(a!.claims!.jti).not.toBe(b!.claims!.jti);
  });

  test.each([
    ["bsky_appview", "app.bsky.unspecced.getConfig"],
    ["bsky_chat", "chat.bsky.convo.listConvos"],
    ["atproto_labeler", "com.atproto.label.queryLabels"],
  ])("the atproto-proxy header's service #%s is resolved from the DID document; the token's aud is the bare DID, as the reference and the AppView want", async (id, nsid) => {
    const res = await call(handle, nsid, { auth: alice.bearer, headers: { "atproto-proxy": `${appview.did}#${id}` } });
    expect(res.status).toBe(200);
    expect(last(nsid).claims).toMatchObject({ iss: alice.did, aud: appview.did, lxm: nsid });
  });

  test("chat.bsky.* without a header goes to the configured chat service", async () => {
    const res = await call(handle, "chat.bsky.convo.getLog", { auth: alice.bearer });
    expect(res.status).toBe(200);
    expect(last("chat.bsky.convo.getLog").claims?.aud).toBe(appview.did);
  });

  test("createReport goes to the report service with its body", async () => {
    const input = { reasonType: "com.atproto.moderation.defs#reasonSpam", subject: { $type: "com.atproto.admin.defs#repoRef", did: alice.did } };
    const res = await call(handle, "com.atproto.moderation.createReport", { auth: alice.bearer, body: input });
    expect(res.status).toBe(200);
    const got = last("com.atproto.moderation.createReport");
    expect(got.method).toBe("POST");
    expect(JSON.parse(got.body.toString())).toEqual(input);
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.claims).toMatchObject({ aud: appview.did, lxm: "com.atproto.moderation.createReport" });
  });

  test("getFeed: the token is for the feed generator's DID (from its record at the AppView), scoped to getFeedSkeleton", async () => {
    appview.route("com.atproto.repo.getRecord", (req) => {
      const rkey = new URL(req.url).searchParams.get("rkey");
      if (rkey !== "hot") return Response.json({ error: "RecordNotFound", message: "no such record" }, { status: 400 });
      return Response.json({ uri: "at://did:plc:feedowner/app.bsky.feed.generator/hot", cid: "bafy", value: { did: "did:web:feedgen.example.com" } });
    });
    const feed = encodeURIComponent("at://did:plc:feedowner/app.bsky.feed.generator/hot");
    const res = await call(handle, "app.bsky.feed.getFeed", { query: `feed=${feed}`, auth: alice.bearer });
    expect(res.status).toBe(200);
    expect(last("app.bsky.feed.getFeed").claims).toMatchObject({ iss: alice.did, aud: "did:web:feedgen.example.com", lxm: "app.bsky.feed.getFeedSkeleton" });

    const missing = encodeURIComponent("at://did:plc:feedowner/app.bsky.feed.generator/gone");
    const unknown = await call(handle, "app.bsky.feed.getFeed", { query: `feed=${missing}`, auth: alice.bearer });
    expect(unknown).toMatchObject({ status: 400, body: { error: "UnknownFeed" } });
  });

  test("registerPush: the audience is the input's serviceDid; a service without #bsky_notif is 400", async () => {
    const input = { serviceDid: appview.did, token: "device-token", platform: "ios", appId: "xyz.blueskyweb.app" };
    const res = await call(handle, "app.bsky.notification.registerPush", { auth: alice.bearer, body: input });
    expect(res.status).toBe(200);
    const got = last("app.bsky.notification.registerPush");
    expect(got.claims).toMatchObject({ iss: alice.did, aud: appview.did, lxm: "app.bsky.notification.registerPush" });
    expect(JSON.parse(got.body.toString())).toEqual(input);

    const elsewhere = await call(handle, "app.bsky.notification.unregisterPush", { auth: alice.bearer, body: { ...input, serviceDid: alice.did } });
    expect(elsewhere).toMatchObject({ status: 400, body: { error: "InvalidRequest" } });
  });

  test("com.atproto.repo.getRecord of a repository not hosted here passes to the AppView without credentials", async () => {
    appview.route("com.atproto.repo.getRecord", () => Response.json({ uri: "at://did:plc:elsewhere/app.bsky.feed.post/1", value: { text: "hi" } }));
    const request = new Request("http://localhost/xrpc/com.atproto.repo.getRecord?repo=did:plc:elsewhere&collection=app.bsky.feed.post&rkey=1");
    const res = await proxy.forwardToAppView({ request, nsid: "com.atproto.repo.getRecord", caller: null });
    expect(res!.status).toBe(200);
    expect(((await res!.json()) as { value: unknown }).value).toEqual({ text: "hi" });
    const got = last("com.atproto.repo.getRecord");
    expect(got.claims).toBeNull();
    expect(got.headers.authorization).toBeUndefined();
  });
});

describe("what is not proxied", () => {
  test.each([
    ["no did", "#bsky_appview", "no did specified in proxy header"],
    ["no service", "did:plc:abc", "no service id specified in proxy header"],
    ["empty service", "did:plc:abc#", "no service id specified in proxy header"],
    ["two fragments", "did:plc:abc#a#b", "invalid proxy header format"],
    ["spaces", "did:plc:abc #x", "proxy header cannot contain spaces"],
    ["not a DID", "https://evil.example#bsky_appview", "invalid did in proxy header"],
  ])("a bad atproto-proxy header (%s) is 400 InvalidRequest", async (_, header, message) => {
    const res = await call(handle, "app.bsky.actor.getProfile", { auth: alice.bearer, headers: { "atproto-proxy": header } });
    expect(res).toMatchObject({ status: 400, body: { error: "InvalidRequest", message } });
  });

  test("an unresolvable DID or a missing service entry is 400, as in the reference", async () => {
    const noDid = await call(handle, "app.bsky.actor.getProfile", { auth: alice.bearer, headers: { "atproto-proxy": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#bsky_appview" } });
    expect(noDid).toMatchObject({ status: 400, body: { message: "could not resolve proxy did" } });
    const noService = await call(handle, "app.bsky.actor.getProfile", { auth: alice.bearer, headers: { "atproto-proxy": `${appview.did}#nope` } });
    expect(noService).toMatchObject({ status: 400, body: { message: "could not resolve proxy did service url" } });
  });

  test("an unknown method with no target stays 501 MethodNotImplemented", async () => {
    expect(proxy.wants("com.example.nothing", new Request("http://localhost/"), false)).toBe(false);
    const res = await call(handle, "com.example.nothing", { auth: alice.bearer });
    expect(res).toMatchObject({ status: 501, body: { error: "MethodNotImplemented" } });
  });

  // Admin methods Aurora does not serve itself (and case variants of ones it does) are never proxied either.
  test.each(["com.atproto.admin.getAccountReports", "COM.ATPROTO.ADMIN.updateSubjectStatus", "COM.ATPROTO.IDENTITY.signPlcOperation", "Com.Atproto.Identity.requestPlcOperationSignature", "COM.ATPROTO.SERVER.updateEmail"])(
    "%s is refused (400 Bad token method) before credentials, and never reaches the upstream",
    async (nsid) => {
      const before = appview.received.length;
      for (const auth of [undefined, alice.bearer]) {
        const res = await call(handle, nsid, { auth, body: {}, headers: { "atproto-proxy": `${appview.did}#bsky_appview` } });
        expect(res).toMatchObject({ status: 400, body: { error: "InvalidToken", message: "Bad token method" } });
      }
      expect(appview.received.length).toBe(before);
    },
  );

  test("Aurora's own methods are served here, header or not; getPreferences follows a header naming another AppView", () => {
    const to = (header: string) => new Request("http://localhost/", { headers: { "atproto-proxy": header } });
    expect(proxy.wants("com.atproto.repo.getRecord", to(`${appview.did}#bsky_chat`), true)).toBe(false);
    expect(proxy.wants("com.atproto.server.describeServer", to(`${appview.did}#bsky_appview`), true)).toBe(false);
    expect(proxy.wants("app.bsky.actor.getPreferences", to(`${appview.did}#bsky_appview`), true)).toBe(false);
    expect(proxy.wants("app.bsky.actor.getPreferences", to("did:web:other.example#bsky_appview"), true)).toBe(true);
    expect(proxy.wants("app.bsky.actor.getPreferences", new Request("http://localhost/"), true)).toBe(false);
  });

  test("a proxied call needs an access token", async () => {
    const before = appview.received.length;
    const res = await call(handle, "app.bsky.actor.getProfile", { query: "actor=x" });
    expect(res).toMatchObject({ status: 401, body: { error: "AuthenticationRequired" } });
    expect(appview.received.length).toBe(before);
  });

  test("an app password reaches chat only with the privileged scope", async () => {
    const session = async (privileged: boolean) => {
      const name = `app-${privileged}`;
      const created = await xrpc(ctx, "com.atproto.server.createAppPassword", { auth: alice.bearer, body: { name, privileged } });
      const login = await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: alice.handle, password: created.body.password } });
      return `Bearer ${login.body.accessJwt}`;
    };
    const plain = await session(false);
    expect(await call(handle, "chat.bsky.convo.listConvos", { auth: plain })).toMatchObject({ status: 400, body: { error: "InvalidToken" } });
    expect((await call(handle, "app.bsky.feed.getTimeline", { auth: plain })).status).toBe(200);
    expect((await call(handle, "chat.bsky.convo.listConvos", { auth: await session(true) })).status).toBe(200);
  });
});

describe("read-after-write", () => {
  test("a view behind the account's repo gets the newer records merged in, with atproto-upstream-lag", async () => {
    const write = async (collection: string, record: object, rkey?: string) => {
      const res = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: { repo: alice.did, collection, rkey, record } });
      expect(res.status).toBe(200);
      return res.body.commit.rev as string;
    };
    const seen = await write("app.bsky.feed.post", { $type: "app.bsky.feed.post", text: "first", createdAt: new Date().toISOString() });
    await write("app.bsky.actor.profile", { $type: "app.bsky.actor.profile", displayName: "Alice Local" }, "self");
    appview.route("app.bsky.actor.getProfile", () =>
      Response.json({ did: alice.did, handle: alice.handle, displayName: "Alice Old" }, { headers: { "atproto-repo-rev": seen } }),
    );
    const res = await call(handle, "app.bsky.actor.getProfile", { query: `actor=${alice.did}`, auth: alice.bearer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ did: alice.did, displayName: "Alice Local" });
    expect(Number(res.headers.get("atproto-upstream-lag"))).toBeGreaterThanOrEqual(0);
    expect(res.headers.get("atproto-repo-rev")).toBe(seen);

    // An upstream that has seen everything is passed on as it came.
    appview.route("app.bsky.actor.getProfile", (_, got) =>
      Response.json({ did: alice.did, handle: alice.handle, displayName: "Alice Old", asked: got.headers["accept-encoding"] }, { headers: { "atproto-repo-rev": "9zzzzzzzzzzzz" } }),
    );
    const current = await call(handle, "app.bsky.actor.getProfile", { query: `actor=${alice.did}`, auth: alice.bearer, headers: { "accept-encoding": "gzip" } });
    expect(current.body).toEqual({ did: alice.did, handle: alice.handle, displayName: "Alice Old", asked: "identity" });
    expect(current.headers.get("atproto-upstream-lag")).toBeNull();
  });
});
