/**
 * Issue 13's gateway on the deployment of docs/SCALING.md: three compiled
 * nodes behind nginx proxy app.bsky.* to an AppView that verifies every
 * service-auth token against the PLC directory; CORS preflights pass nginx;
 * preferences written through one node are read through another; a
 * getServiceAuth token used once on one node is refused on every other.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, startCluster } from "@test/support/cluster";
import { type TestAppView, startTestAppView } from "@test/support/appview";
import { type TestPlc, startPlc } from "@test/support/plc";
import { fakePng } from "@test/support/blobs";
import { type Account, signUp, xrpc } from "./helpers";

let plc: TestPlc;
let appview: TestAppView;
let cluster: Cluster;
let alice: Account;
beforeAll(async () => {
  plc = await startPlc();
  appview = await startTestAppView({ plcUrl: plc.url });
  cluster = await startCluster({
    nodes: 3,
    plc,
    env: { PDS_BSKY_APP_VIEW_URL: appview.url, PDS_BSKY_APP_VIEW_DID: appview.did, PDS_SSRF_ALLOW_PRIVATE: "true" },
  });
  alice = await signUp(cluster, "alice");
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  await appview?.stop();
  await plc?.stop();
}, 60_000);

const token = () => alice.agent.session!.accessJwt;

test("app.bsky.* through nginx reaches the AppView from every node, each call with its own verified service-auth token", async () => {
  appview.route("app.bsky.feed.getTimeline", () => Response.json({ feed: [] }));
  const before = appview.calls("app.bsky.feed.getTimeline").length;
  for (let i = 0; i < 9; i++) {
    const res = await xrpc(cluster.url, "app.bsky.feed.getTimeline", { token: token() });
    expect(res.status).toBe(200);
  }
  for (const node of cluster.nodes) expect((await xrpc(node.url, "app.bsky.feed.getTimeline", { token: token() })).status).toBe(200);
  const calls = appview.calls("app.bsky.feed.getTimeline").slice(before);
  expect(calls).toHaveLength(12);
  for (const call of calls) {
    expect(call.claims).toMatchObject({ iss: alice.did, aud: appview.did, lxm: "app.bsky.feed.getTimeline" });
    expect(call.headers.authorization).toStartWith("Bearer ");
    expect(call.headers.authorization).not.toContain(token());
  }
  expect(new Set(calls.map((c) => c.claims!.jti)).size).toBe(12);
  // The @atproto/api client the Bluesky app uses, with the header it sends.
  const viaHeader = await alice.agent.withProxy("bsky_appview", appview.did).app.bsky.feed.getTimeline({});
  expect(viaHeader.success).toBe(true);
});

test("a CORS preflight from the web app passes nginx and is answered by a node", async () => {
  const res = await fetch(`${cluster.url}/xrpc/app.bsky.feed.getTimeline`, {
    method: "OPTIONS",
    headers: { origin: "https://bsky.app", "access-control-request-method": "GET", "access-control-request-headers": "authorization, atproto-proxy" },
  });
  expect(res.status).toBe(204);
  expect(res.headers.get("access-control-allow-origin")).toBe("*");
  expect(res.headers.get("access-control-allow-headers")).toBe("authorization, atproto-proxy");
});

test("preferences put through one node are read through every other", async () => {
  const prefs = [{ $type: "app.bsky.actor.defs#adultContentPref", enabled: true }, { $type: "app.bsky.actor.defs#savedFeedsPrefV2", items: [] }];
  const [first, ...others] = cluster.nodes;
  expect((await xrpc(first!.url, "app.bsky.actor.putPreferences", { token: token(), body: { preferences: prefs } })).status).toBe(200);
  for (const node of others) {
    const got = await xrpc(node.url, "app.bsky.actor.getPreferences", { token: token() });
    expect(got.body).toEqual({ preferences: prefs });
  }
});

test("a service-auth token from getServiceAuth is accepted once, then refused on every node (replay state in Redis)", async () => {
  const elsewhere = await xrpc(cluster.url, "com.atproto.server.getServiceAuth", {
    token: token(),
    query: { aud: "did:web:elsewhere.test", lxm: "com.atproto.repo.uploadBlob" },
  });
  expect(elsewhere.status).toBe(200);
  // uploadBlob takes the account's own service auth (a video service uploading for the user); aud must be this server.
  const own = await xrpc(cluster.url, "com.atproto.server.describeServer");
  const serviceDid = own.body.did as string;
  const real = await xrpc(cluster.url, "com.atproto.server.getServiceAuth", { token: token(), query: { aud: serviceDid, lxm: "com.atproto.repo.uploadBlob" } });
  expect(real.status).toBe(200);
  const upload = (base: string) =>
    fetch(`${base}/xrpc/com.atproto.repo.uploadBlob`, {
      method: "POST",
      headers: { authorization: `Bearer ${real.body.token}`, "content-type": "image/png" },
      body: fakePng(256),
    });
  const [first, ...others] = cluster.nodes;
  expect((await upload(first!.url)).status).toBe(200);
  for (const node of others) {
    const again = await upload(node.url);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: string }).error).toBe("BadJwt");
  }
  // A token for another audience is refused outright.
  const wrongAud = await fetch(`${first!.url}/xrpc/com.atproto.repo.uploadBlob`, {
    method: "POST",
    headers: { authorization: `Bearer ${elsewhere.body.token}`, "content-type": "image/png" },
    body: fakePng(256),
  });
  expect(wrongAud.status).toBe(401);
});
