/**
 * The reference AppView (@atproto/bsky, wired as dev-env's TestBsky) indexes
 * Aurora's firehose; the Bluesky API is then read through Aurora, which
 * proxies with service auth that the real AppView verifies. Slow (an npm
 * install on first run, a Node 22 child): `npm run test:appview`, not part
 * of `npm test` (bun test only collects *.test.ts / *.spec.ts).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AtpAgent, XRPCError } from "@atproto/api";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintServiceJwt } from "@/auth/service-jwt";
import { sqlite } from "@plugins/db-sqlite";
import { eventually } from "@test/support/eventually";
import { type TestPlc, startPlc } from "@test/support/plc";
import { freePort } from "@test/support/services";
import { type Node, startNode } from "@test/e2e/accounts-support";
import { type RunningAppView, startAppView } from "./appview";
import { installAppView } from "./install";

const dir = mkdtempSync(join(tmpdir(), "aurora-appview-"));
let plc: TestPlc;
let appView: RunningAppView;
let node: Node;
const timings: Record<string, number> = {};

const since = (t0: number) => Math.round((performance.now() - t0) / 100) / 10;

beforeAll(async () => {
  const dbUrl = process.env.AURORA_TEST_POSTGRES_URL;
  if (!dbUrl) throw new Error("AURORA_TEST_POSTGRES_URL is not set: run through `npm run test:appview`");
  let t0 = performance.now();
  const install = await installAppView();
  timings.installSeconds = since(t0);
  plc = await startPlc();
  const port = await freePort();
  t0 = performance.now();
  appView = await startAppView({ install, plcUrl: plc.url, pdsUrl: `http://localhost:${port}`, dbUrl });
  timings.startSeconds = since(t0);
  node = await startNode({
    port,
    plcUrl: plc.url,
    db: sqlite({ path: join(dir, "aurora.sqlite") }),
    config: {
      service: { inviteRequired: false },
      identity: { plcUrl: plc.url, allowPrivateAddresses: true },
      appView: { url: appView.url, did: appView.did },
    },
  });
}, 600_000);

afterAll(async () => {
  if (appView) console.error(`[appview] install ${timings.installSeconds} s, start ${timings.startSeconds} s, rss ${Math.round(appView.rssMb())} MB`);
  await node?.stop();
  await appView?.stop();
  await plc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const post = (text: string, reply?: { root: Ref; parent: Ref }) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString(), ...(reply ? { reply } : {}) });
interface Ref {
  uri: string;
  cid: string;
}

/** Accounts and records written on Aurora: alice posts, bob follows, likes and replies. */
async function seed() {
  const alice = node.agent();
  const bob = node.agent();
  await alice.createAccount({ handle: "alice.test", email: "alice@example.com", password: "alice-password" });
  await bob.createAccount({ handle: "bob.test", email: "bob@example.com", password: "bob-password" });
  const aliceDid = alice.session!.did;
  const bobDid = bob.session!.did;
  await alice.com.atproto.repo.putRecord({
    repo: aliceDid,
    collection: "app.bsky.actor.profile",
    rkey: "self",
    record: { $type: "app.bsky.actor.profile", displayName: "Alice on Aurora" },
  });
  const root = (await alice.com.atproto.repo.createRecord({ repo: aliceDid, collection: "app.bsky.feed.post", record: post("hello from aurora") })).data;
  await bob.com.atproto.repo.createRecord({
    repo: bobDid,
    collection: "app.bsky.graph.follow",
    record: { $type: "app.bsky.graph.follow", subject: aliceDid, createdAt: new Date().toISOString() },
  });
  await bob.com.atproto.repo.createRecord({
    repo: bobDid,
    collection: "app.bsky.feed.like",
    record: { $type: "app.bsky.feed.like", subject: root, createdAt: new Date().toISOString() },
  });
  const reply = (await bob.com.atproto.repo.createRecord({ repo: bobDid, collection: "app.bsky.feed.post", record: post("welcome, alice", { root, parent: root }) })).data;
  return { alice, bob, aliceDid, bobDid, root, reply };
}

let seeded: Awaited<ReturnType<typeof seed>>;

test("the AppView indexes accounts, profiles, posts, follows, likes and replies written on Aurora", async () => {
  seeded = await seed();
  const { aliceDid, root } = seeded;
  const direct = new AtpAgent({ service: appView.url });
  const profile = await eventually(
    async () => {
      const { data } = await direct.app.bsky.actor.getProfile({ actor: aliceDid });
      return data.followersCount === 1 && data.postsCount === 1 && data.displayName ? data : null;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: "alice's profile, post and follower indexed by the AppView" },
  );
  expect(profile).toMatchObject({ did: aliceDid, handle: "alice.test", displayName: "Alice on Aurora" });
  const thread = await eventually(
    async () => {
      const { data } = await direct.app.bsky.feed.getPostThread({ uri: root.uri });
      const t = data.thread as { post: { likeCount?: number }; replies?: unknown[] };
      return t.post.likeCount === 1 && t.replies?.length === 1 ? t : null;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: "the like and the reply indexed" },
  );
  expect(thread).toMatchObject({ post: { uri: root.uri, record: { text: "hello from aurora" } }, replies: [{ post: { record: { text: "welcome, alice" } } }] });
}, 60_000);

type Who = "alice" | "bob";
/** One Bluesky API query made as one of the two accounts. */
type Read = (as: Who, nsid: string, params?: Record<string, string>) => Promise<any>;

/** What the two accounts see: the checks shared by the direct and the proxied reads. */
async function expectViews(read: Read) {
  const { aliceDid, bobDid, root, reply } = seeded;
  const timeline = (await read("bob", "app.bsky.feed.getTimeline")).feed as { post: { uri: string; viewer?: { like?: string } } }[];
  const rootInTimeline = timeline.find((item) => item.post.uri === root.uri);
  expect(rootInTimeline?.post.viewer?.like).toBeString();

  const profile = await read("bob", "app.bsky.actor.getProfile", { actor: "alice.test" });
  expect(profile).toMatchObject({ did: aliceDid, handle: "alice.test", displayName: "Alice on Aurora", followersCount: 1 });
  expect(profile.viewer?.following).toBeString();

  const { thread } = await read("alice", "app.bsky.feed.getPostThread", { uri: root.uri });
  expect(thread.post.likeCount).toBe(1);
  expect(thread.replies.map((r: { post: { uri: string } }) => r.post.uri)).toEqual([reply.uri]);
  expect(thread.replies[0].post.author.did).toBe(bobDid);

  const { notifications } = await read("alice", "app.bsky.notification.listNotifications");
  expect(notifications.map((n: { reason: string }) => n.reason).sort()).toEqual(["follow", "like", "reply"]);
  expect(notifications.every((n: { author: { did: string } }) => n.author.did === bobDid)).toBe(true);
}

test("the AppView accepts service auth signed with Aurora accounts' keys, resolved through the PLC directory", async () => {
  expect(seeded).toBeDefined();
  const dids = { alice: seeded.aliceDid, bob: seeded.bobDid };
  await expectViews(async (as, nsid, params = {}) => {
    const key = await node.ctx.accounts.signingKey(dids[as]);
    const jwt = await mintServiceJwt(key, { iss: dids[as], aud: appView.did, lxm: nsid });
    const res = await fetch(`${appView.url}/xrpc/${nsid}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${jwt}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${nsid} as ${as}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  });
}, 30_000);

test.each([
  ["the configured AppView", (agent: AtpAgent) => agent],
  ["the atproto-proxy header", (agent: AtpAgent) => agent.withProxy("bsky_appview", appView.did) as AtpAgent],
])("timeline, profile, thread and notifications read through Aurora via %s", async (_, route) => {
  expect(seeded).toBeDefined();
  const agents = { alice: route(seeded.alice), bob: route(seeded.bob) };
  await expectViews((as, nsid, params) => viaAurora(agents[as], nsid, params));
}, 30_000);

/** A query through Aurora; until the proxy lands, say so rather than fail obscurely. */
async function viaAurora(agent: AtpAgent, nsid: string, params?: Record<string, string>): Promise<any> {
  try {
    return (await agent.call(nsid, params)).data;
  } catch (err) {
    if (err instanceof XRPCError && err.status === 501) {
      throw new Error(`Aurora does not proxy ${nsid} to the AppView yet (501 ${err.error}: ${err.message})`);
    }
    throw err;
  }
}

test("while the AppView lags behind, Aurora merges the user's own newer records into its views (read-after-write)", async () => {
  expect(seeded).toBeDefined();
  const { alice, aliceDid } = seeded;
  const direct = new AtpAgent({ service: appView.url });
  await appView.pauseIndexing();
  let fresh: Ref;
  try {
    await alice.com.atproto.repo.putRecord({
      repo: aliceDid,
      collection: "app.bsky.actor.profile",
      rkey: "self",
      record: { $type: "app.bsky.actor.profile", displayName: "Alice, renamed" },
    });
    fresh = (await alice.com.atproto.repo.createRecord({ repo: aliceDid, collection: "app.bsky.feed.post", record: post("written while the AppView lags") })).data;
    // The AppView really has not seen them: whatever Aurora shows of them is its own merge.
    expect((await direct.app.bsky.actor.getProfile({ actor: aliceDid })).data.displayName).toBe("Alice on Aurora");

    const timeline = await viaAurora(alice, "app.bsky.feed.getTimeline");
    expect(timeline.feed[0].post.uri).toBe(fresh.uri);
    const authorFeed = await viaAurora(alice, "app.bsky.feed.getAuthorFeed", { actor: aliceDid });
    expect(authorFeed.feed[0].post).toMatchObject({ uri: fresh.uri, record: { text: "written while the AppView lags" } });
    const profile = await viaAurora(alice, "app.bsky.actor.getProfile", { actor: aliceDid });
    expect(profile.displayName).toBe("Alice, renamed");
    const { thread } = await viaAurora(alice, "app.bsky.feed.getPostThread", { uri: fresh.uri });
    expect(thread.post).toMatchObject({ uri: fresh.uri, author: { did: aliceDid } });
  } finally {
    await appView.resumeIndexing();
  }
  await eventually(async () => (await direct.app.bsky.feed.getPostThread({ uri: fresh.uri })).data.thread, {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: "the AppView catching up after indexing resumed",
  });
}, 60_000);
