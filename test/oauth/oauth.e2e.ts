/**
 * The proof of issue 16: a real atproto OAuth client
 * (@atproto/oauth-client-node, under Node 22) signs in to Aurora, with the
 * sign-in and consent pages driven in headless Chromium, then posts, uploads
 * a blob, reads back, reads through the AppView proxy, refreshes and revokes
 * with its DPoP-bound OAuth session. Once on one node (SQLite), once on the
 * 3-node cluster behind nginx (PostgreSQL + Redis), where every request of
 * the flow goes to the next node in turn and the revocation must hold on
 * each. Slow (an npm install and a Debian chromium on first run):
 * `npm run test:oauth`, not part of `npm test`.
 * AURORA_SCREENSHOTS=1 rewrites docs/screenshots/oauth-sign-in.png and
 * oauth-consent.png from the single-node run.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { type TestAppView, startTestAppView } from "@test/support/appview";
import { type Cluster, startCluster } from "@test/support/cluster";
import { type TestPlc, startPlc } from "@test/support/plc";
import { ROOT } from "@test/support/process";
import { type Node, startNode } from "@test/e2e/accounts-support";
import { type DriverResult, type Step, runDriver } from "./driver";
import { type OAuthClientInstall, ensureChromium, installOAuthClient } from "./install";

const dir = mkdtempSync(join(tmpdir(), "aurora-oauth-"));
const timings: Record<string, number> = {};
const since = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;
let install: OAuthClientInstall;

const FLOW: Step[] = ["authorize", "sign-in", "consent", "callback", "post", "blob", "read", "appview", "refresh", "revoke", "deny"];
const PASSWORD = "alice-oauth-password";

beforeAll(async () => {
  const t0 = performance.now();
  await ensureChromium();
  install = await installOAuthClient();
  timings.installSeconds = since(t0);
}, 900_000);

afterAll(() => {
  console.error(`[oauth] ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in AppView whose getProfile answers a valid profile view of the caller it verified. */
async function appViewFor(plcUrl: string, handle: string): Promise<TestAppView> {
  const appView = await startTestAppView({ plcUrl });
  appView.route("app.bsky.actor.getProfile", (_req, call) => Response.json({ did: call.claims?.iss, handle }));
  return appView;
}

/** Fails with the driver's own account of what went wrong (step, message, what the page showed). */
function expectOk(result: DriverResult) {
  if (!result.ok) throw new Error(`the OAuth driver failed: ${JSON.stringify(result.error, null, 2)}\nsteps done: ${Object.keys(result.steps).join(", ")}\nrequests per node: ${JSON.stringify(result.nodeHits)}`);
}

/** What every run of the whole flow must show, on one node or many. */
function expectFlow(result: DriverResult, opts: { pdsUrl: string; did: string; handle: string; appView: TestAppView }) {
  expectOk(result);
  const s = result.steps;
  expect(s.authorize?.endpoint).toBe(`${opts.pdsUrl}/oauth/authorize`);
  expect(s.authorize?.requestUri).toStartWith("urn:ietf:params:oauth:request_uri:");
  expect(s.consent?.mentionsHandle).toBe(true);
  expect(s.callback).toMatchObject({ iss: opts.pdsUrl, state: "e2e-state", did: opts.did, sub: opts.did, tokenType: "DPoP", hasRefreshToken: true });
  expect(s.callback?.scope.split(" ").sort()).toEqual(["atproto", "transition:generic"]);
  expect(s.post?.uri).toStartWith(`at://${opts.did}/app.bsky.feed.post/`);
  expect(s.blob).toMatchObject({ mimeType: "image/png", size: s.blob?.bytes });
  expect(s.read?.post).toMatchObject({ sameCid: true, text: s.post?.text });
  expect(s.read?.blob).toMatchObject({ sameCid: true, embedBlob: s.blob?.blobCid });
  expect(s.read?.blobBytesMatch).toBe(true);
  // Through Aurora's proxy: the AppView verified a service token Aurora minted for this account and method.
  expect(s.appview).toEqual({ ms: s.appview!.ms, did: opts.did, handle: opts.handle });
  const proxied = opts.appView.calls("app.bsky.actor.getProfile");
  expect(proxied.length).toBeGreaterThan(0);
  expect(proxied.at(-1)!.claims).toMatchObject({ iss: opts.did, aud: opts.appView.did, lxm: "app.bsky.actor.getProfile" });
  // Refresh: a new access token and a rotated refresh token, and the new access token works.
  expect(s.refresh).toMatchObject({ accessChanged: true, refreshRotated: true, callAfterRefresh: true });
  // Revoke: the old access token and the old refresh token are refused everywhere.
  expect(s.revoke?.storeEmpty).toBe(true);
  expect(s.revoke?.sessionAfter).not.toBe("still usable");
  for (const seen of s.revoke!.afterRevoke as { node: string; access: { status: number; error: string | null }; refresh: { status: number; error: string | null } }[]) {
    expect({ node: seen.node, status: seen.access.status }).toEqual({ node: seen.node, status: 401 });
    expect({ node: seen.node, status: seen.refresh.status, error: seen.refresh.error }).toEqual({ node: seen.node, status: 400, error: "invalid_grant" });
  }
  // A second authorization on the same browser: the remembered account is chosen, then Deny.
  expect(s.deny?.params).toMatchObject({ error: "access_denied" });
  expect(s.deny?.iss).toBe(opts.pdsUrl);
  expect(s.deny?.error).toMatchObject({ error: "access_denied", state: "e2e-deny" });
}

const isPng = (path: string) => readFileSync(path).subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));

describe("one node on SQLite", () => {
  let plc: TestPlc;
  let appView: TestAppView;
  let node: Node;
  let did: string;
  const handle = "alice.test";

  beforeAll(async () => {
    plc = await startPlc();
    appView = await appViewFor(plc.url, handle);
    node = await startNode({
      plcUrl: plc.url,
      db: sqlite({ path: join(dir, "aurora.sqlite") }),
      config: {
        service: { inviteRequired: false },
        identity: { plcUrl: plc.url, allowPrivateAddresses: true },
        appView: { url: appView.url, did: appView.did },
      },
    });
    const agent = new AtpAgent({ service: node.url });
    await agent.createAccount({ handle, email: "alice@example.com", password: PASSWORD });
    did = agent.session!.did;
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    await appView?.stop();
    await plc?.stop();
  });

  test("headless Chromium opens Aurora's front page (browser and driver plumbing)", async () => {
    const shots = join(dir, "banner");
    const result = await runDriver(install, { pdsUrl: node.url, handle, password: PASSWORD, plcUrl: plc.url, steps: ["banner"], screenshotsDir: shots });
    timings.bannerSeconds = result.seconds;
    expectOk(result);
    expect(result.steps.banner).toMatchObject({ status: 200, text: expect.stringContaining("AT Protocol Personal Data Server") });
    expect(isPng(result.steps.banner!.screenshot)).toBe(true);
  }, 60_000);

  test("@atproto/oauth-client-node signs in through the pages, posts, uploads, reads via the AppView, refreshes, revokes", async () => {
    const shots = process.env.AURORA_SCREENSHOTS === "1" ? join(ROOT, "docs/screenshots") : join(dir, "shots");
    const result = await runDriver(install, { pdsUrl: node.url, handle, password: PASSWORD, plcUrl: plc.url, steps: FLOW, appView: { did: appView.did }, screenshotsDir: shots });
    timings.flowSeconds = result.seconds;
    expectFlow(result, { pdsUrl: node.url, did, handle, appView });
    expect(isPng(result.steps["sign-in"]!.screenshot)).toBe(true);
    expect(isPng(result.steps.consent!.screenshot)).toBe(true);
    expect(result.steps["sign-in"]!.screenshot).toEndWith("oauth-sign-in.png");
    expect(result.steps.consent!.screenshot).toEndWith("oauth-consent.png");
  }, 180_000);
});

describe("three nodes behind nginx on PostgreSQL + Redis", () => {
  let plc: TestPlc;
  let appView: TestAppView;
  let cluster: Cluster;
  let did: string;
  const handle = "carol.test";

  beforeAll(async () => {
    plc = await startPlc();
    appView = await appViewFor(plc.url, handle);
    const t0 = performance.now();
    cluster = await startCluster({
      plc,
      env: { PDS_SSRF_ALLOW_PRIVATE: "true", PDS_BSKY_APP_VIEW_URL: appView.url, PDS_BSKY_APP_VIEW_DID: appView.did },
    });
    timings.clusterStartSeconds = since(t0);
    const agent = new AtpAgent({ service: cluster.url });
    await agent.createAccount({ handle, email: "carol@example.com", password: PASSWORD });
    did = agent.session!.did;
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await appView?.stop();
    await plc?.stop();
  });

  test("the same flow with every request sent to the next node in turn; revocation holds on every node", async () => {
    const nodes = cluster.nodes.map((n) => `http://localhost:${n.port}`);
    const result = await runDriver(install, { pdsUrl: cluster.url, handle, password: PASSWORD, plcUrl: plc.url, steps: FLOW, nodes, appView: { did: appView.did } });
    timings.clusterFlowSeconds = result.seconds;
    expectFlow(result, { pdsUrl: cluster.url, did, handle, appView });
    // Both the client's calls and the browser's page loads reached every node.
    for (const who of ["client", "browser"]) for (const n of nodes) expect(result.nodeHits[`${who} ${n}`] ?? 0).toBeGreaterThan(0);
    expect(result.steps.revoke!.afterRevoke.map((r: { node: string }) => r.node)).toEqual(nodes);
  }, 180_000);

  test("the same flow through nginx alone, as a real client meets the cluster", async () => {
    const result = await runDriver(install, { pdsUrl: cluster.url, handle, password: PASSWORD, plcUrl: plc.url, steps: FLOW, nodes: [], appView: { did: appView.did } });
    expectFlow(result, { pdsUrl: cluster.url, did, handle, appView });
  }, 180_000);
});
