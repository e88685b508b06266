import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MissingScopeError } from "@/auth/permissions";
import { XrpcError } from "@/errors";
import { oauthCaller } from "@test/support/oauth-caller";
import { type ProxyFixture, startProxyFixture } from "./support";

// The proxy's rpc check for OAuth callers: rpc:<nsid>?aud=<service did>#<service id>, the audience being
// the target the call resolves to (configured default or atproto-proxy header). The caller is built
// directly (src/auth/permissions.ts is what is under test, not token verification).

let fx: ProxyFixture;
beforeAll(async () => {
  fx = await startProxyFixture();
});
afterAll(() => fx?.stop());

// The test AppView is did:web:localhost%3A<port>: a scope string must encode its "%" (and "#"); the
// scope a refusal names is the library's rendering, which leaves the "%" as it is.
const grant = (serviceId: string) => encodeURIComponent(`${fx.appview.did}#${serviceId}`);
const aud = (serviceId: string) => `${fx.appview.did}%23${serviceId}`;
const forward = async (nsid: string, scope: string, init: { query?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const request = new Request(`http://localhost/xrpc/${nsid}${init.query ? `?${init.query}` : ""}`, {
    method: init.body === undefined ? "GET" : "POST",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return fx.proxy.forward({ request, nsid, caller: oauthCaller(scope, fx.alice.did) }).catch((err: unknown) => err);
};
const neededScope = (err: unknown) => {
  expect(err).toBeInstanceOf(MissingScopeError);
  expect((err as XrpcError).status).toBe(403);
  return (err as MissingScopeError).scope;
};

describe("proxied calls with OAuth tokens", () => {
  test("the default AppView: rpc:<nsid>?aud=<appview>#bsky_appview grants exactly that method; atproto alone is refused before anything goes upstream", async () => {
    const before = fx.appview.calls("app.bsky.feed.getTimeline").length;
    expect(neededScope(await forward("app.bsky.feed.getTimeline", "atproto"))).toBe(`rpc:app.bsky.feed.getTimeline?aud=${aud("bsky_appview")}`);
    expect(fx.appview.calls("app.bsky.feed.getTimeline").length).toBe(before);

    const timeline = `atproto rpc:app.bsky.feed.getTimeline?aud=${grant("bsky_appview")}`;
    const res = (await forward("app.bsky.feed.getTimeline", timeline)) as Response;
    expect(res.status).toBe(200);
    expect(fx.last("app.bsky.feed.getTimeline").claims).toMatchObject({ iss: fx.alice.did, aud: fx.appview.did, lxm: "app.bsky.feed.getTimeline" });
    expect(neededScope(await forward("app.bsky.actor.getProfile", timeline, { query: "actor=bob.test" }))).toBe(`rpc:app.bsky.actor.getProfile?aud=${aud("bsky_appview")}`);
  });

  test("the atproto-proxy header's service is the audience: a grant for #bsky_appview does not reach #bsky_chat", async () => {
    const scope = `atproto rpc:chat.bsky.convo.listConvos?aud=${grant("bsky_appview")}`;
    const headers = { "atproto-proxy": `${fx.appview.did}#bsky_chat` };
    expect(neededScope(await forward("chat.bsky.convo.listConvos", scope, { headers }))).toBe(`rpc:chat.bsky.convo.listConvos?aud=${aud("bsky_chat")}`);
    const granted = (await forward("chat.bsky.convo.listConvos", `atproto rpc:chat.bsky.convo.listConvos?aud=${grant("bsky_chat")}`, { headers })) as Response;
    expect(granted.status).toBe(200);
  });

  test("transition:generic reaches everything but chat; transition:chat.bsky reaches chat", async () => {
    expect(((await forward("app.bsky.actor.getProfile", "atproto transition:generic", { query: "actor=bob.test" })) as Response).status).toBe(200);
    expect(neededScope(await forward("chat.bsky.convo.getLog", "atproto transition:generic"))).toStartWith("rpc:chat.bsky.convo.getLog?aud=");
    expect(((await forward("chat.bsky.convo.getLog", "atproto transition:chat.bsky")) as Response).status).toBe(200);
  });

  test("getFeed also needs getFeedSkeleton of the same audience, as the reference asks", async () => {
    const feed = encodeURIComponent("at://did:plc:feedowner/app.bsky.feed.generator/hot");
    const onlyFeed = `atproto rpc:app.bsky.feed.getFeed?aud=${grant("bsky_appview")}`;
    expect(neededScope(await forward("app.bsky.feed.getFeed", onlyFeed, { query: `feed=${feed}` }))).toBe(`rpc:app.bsky.feed.getFeedSkeleton?aud=${aud("bsky_appview")}`);
  });

  test("registerPush: the audience is the service the body names", async () => {
    const input = { serviceDid: fx.appview.did, token: "device-token", platform: "ios", appId: "xyz.blueskyweb.app" };
    expect(neededScope(await forward("app.bsky.notification.registerPush", "atproto", { body: input }))).toBe(
      `rpc:app.bsky.notification.registerPush?aud=${aud("bsky_appview")}`,
    );
    const granted = (await forward("app.bsky.notification.registerPush", `atproto rpc:app.bsky.notification.registerPush?aud=${grant("bsky_appview")}`, { body: input })) as Response;
    expect(granted.status).toBe(200);
  });

  test("refused methods stay 400 InvalidToken before any scope is looked at", async () => {
    const err = await forward("com.atproto.server.createAppPassword", "atproto transition:generic", { body: { name: "x" } });
    expect(err).toBeInstanceOf(XrpcError);
    expect((err as XrpcError).toJSON()).toMatchObject({ error: "InvalidToken" });
  });
});
