/**
 * Read-after-write on SQLite and PostgreSQL: an account writes records over
 * HTTP after the rev a synthetic upstream body claims to have indexed, and
 * `readAfterWrite` merges them into each munged view. Every merged body is
 * checked against the method's output lexicon after a JSON round trip (what
 * the proxy sends); every case where nothing may change answers null.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lexicons } from "@atproto/api";
import { TID } from "@atproto/common-web";
import { readAfterWrite, READ_AFTER_WRITE_METHODS } from "@/proxy/read-after-write";
import { LOCAL_RECORDS_LIMIT } from "@/proxy/read-after-write/records";
import { BACKENDS } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type TestAccount, newAccount, serverConfig, xrpc } from "@test/xrpc/support";

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

interface Written {
  uri: string;
  cid: string;
  rev: string;
  record: Record<string, unknown>;
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`read-after-write on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let alice: TestAccount;
    let bob: TestAccount;
    let old: Written; // indexed by the "upstream"
    let bobPost: Written;
    let fresh: Written; // written after the upstream's rev
    let reply: Written;
    let quote: Written;
    let like: Written;
    let avatarCid: string;
    let head: string;

    const write = async (a: TestAccount, collection: string, record: Record<string, unknown>, rkey?: string): Promise<Written> => {
      const method = rkey ? "com.atproto.repo.putRecord" : "com.atproto.repo.createRecord";
      const res = await xrpc(ctx, method, { auth: a.bearer, body: { repo: a.did, collection, rkey, record } });
      expect(res.status).toBe(200);
      return { uri: res.body.uri, cid: res.body.cid, rev: res.body.commit.rev, record };
    };
    const post = (text: string, extra: Record<string, unknown> = {}) => ({ $type: "app.bsky.feed.post", text, createdAt: iso(Date.now()), ...extra });
    const author = (a: TestAccount, displayName?: string) => ({ did: a.did, handle: a.handle, ...(displayName ? { displayName } : {}) });
    const view = (w: Written, a: TestAccount, indexedAt: string) => ({ uri: w.uri, cid: w.cid, author: author(a, "Old Name"), record: w.record, indexedAt });
    const blobUrl = (cid: string) => `${ctx.config.service.publicUrl}/xrpc/com.atproto.sync.getBlob?did=${encodeURIComponent(alice.did)}&cid=${cid}`;

    /** readAfterWrite for alice, upstream at `old.rev`; the result checked against the lexicon. */
    const merge = async (nsid: string, body: unknown, params: Record<string, string> = {}, upstreamRev = old.rev): Promise<any> => {
      const out = await readAfterWrite({ ctx, nsid, viewer: alice.did, upstreamRev, body, params: new URLSearchParams(params) });
      if (out === null) return null;
      const wire = JSON.parse(JSON.stringify(out));
      lexicons.assertValidXrpcOutput(nsid, wire);
      return wire;
    };

    beforeAll(async () => {
      plc = await startPlc();
      ctx = await backend.open(serverConfig(plc.url));
      alice = await newAccount(ctx, "alice");
      bob = await newAccount(ctx, "bob");
      old = await write(alice, "app.bsky.feed.post", post("indexed already"));
      bobPost = await write(bob, "app.bsky.feed.post", post("bob's post"));
      const upload = await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: alice.bearer, raw: { type: "image/png", data: PNG } });
      expect(upload.status).toBe(200);
      const blob = upload.body.blob;
      avatarCid = blob.ref.$link;
      await write(alice, "app.bsky.actor.profile", { $type: "app.bsky.actor.profile", displayName: "New Name", description: "fresh bio", avatar: blob, banner: blob }, "self");
      fresh = await write(alice, "app.bsky.feed.post", post("just posted"));
      const ref = { uri: old.uri, cid: old.cid };
      reply = await write(alice, "app.bsky.feed.post", post("a reply", { reply: { root: ref, parent: ref } }));
      const images = { $type: "app.bsky.embed.images", images: [{ image: blob, alt: "dot", aspectRatio: { width: 1, height: 1 } }] };
      quote = await write(alice, "app.bsky.feed.post", post("quoting", { embed: { $type: "app.bsky.embed.recordWithMedia", record: { $type: "app.bsky.embed.record", record: ref }, media: images } }));
      like = await write(alice, "app.bsky.feed.like", { $type: "app.bsky.feed.like", subject: ref, createdAt: iso(Date.now()) });
      head = like.rev;
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    test("the munged methods are the reference's six", () => {
      expect([...READ_AFTER_WRITE_METHODS].sort()).toEqual([
        "app.bsky.actor.getProfile",
        "app.bsky.actor.getProfiles",
        "app.bsky.feed.getActorLikes",
        "app.bsky.feed.getAuthorFeed",
        "app.bsky.feed.getPostThread",
        "app.bsky.feed.getTimeline",
      ]);
    });

    test("getProfile: the viewer's newer profile record, images as getBlob URLs on this server", async () => {
      const out = await merge("app.bsky.actor.getProfile", { ...author(alice, "Old Name"), followersCount: 3 });
      expect(out).toEqual({ ...author(alice, "New Name"), followersCount: 3, description: "fresh bio", avatar: blobUrl(avatarCid), banner: blobUrl(avatarCid) });
      expect(await merge("app.bsky.actor.getProfile", author(bob, "Bob"))).toBeNull();
    });

    test("getProfiles: only the viewer's entry changes", async () => {
      const out = await merge("app.bsky.actor.getProfiles", { profiles: [author(bob, "Bob"), author(alice, "Old Name")] });
      expect(out.profiles[0]).toEqual(author(bob, "Bob"));
      expect(out.profiles[1]).toMatchObject({ displayName: "New Name", description: "fresh bio", avatar: blobUrl(avatarCid) });
    });

    test("getAuthorFeed: the viewer's newer posts on top, newest first, with post views the AppView would build", async () => {
      const out = await merge("app.bsky.feed.getAuthorFeed", { feed: [{ post: view(old, alice, iso(Date.now() - HOUR)) }], cursor: "c1" });
      expect(out.cursor).toBe("c1");
      expect(out.feed.map((i: any) => i.post.uri)).toEqual([quote.uri, reply.uri, fresh.uri, old.uri]);
      expect(out.feed[3].post.author).toMatchObject({ displayName: "New Name", avatar: blobUrl(avatarCid) });
      const top = out.feed[2].post;
      expect(top).toMatchObject({ cid: fresh.cid, record: fresh.record, replyCount: 0, repostCount: 0, likeCount: 0, quoteCount: 0, labels: [] });
      expect(top.author).toEqual({ ...author(alice, "New Name"), avatar: blobUrl(avatarCid) });
      expect(out.feed[0].post.embed).toEqual({
        $type: "app.bsky.embed.recordWithMedia#view",
        record: {
          $type: "app.bsky.embed.record#view",
          record: expect.objectContaining({ $type: "app.bsky.embed.record#viewRecord", uri: old.uri, cid: old.cid, value: old.record }),
        },
        media: { $type: "app.bsky.embed.images#view", images: [{ thumb: blobUrl(avatarCid), fullsize: blobUrl(avatarCid), alt: "dot", aspectRatio: { width: 1, height: 1 } }] },
      });
    });

    test("getAuthorFeed of someone else's feed, or an empty one: unchanged", async () => {
      expect(await merge("app.bsky.feed.getAuthorFeed", { feed: [{ post: view(bobPost, bob, iso(Date.now() - HOUR)) }] })).toBeNull();
      expect(await merge("app.bsky.feed.getAuthorFeed", { feed: [] })).toBeNull();
    });

    test("getTimeline: the viewer's newer posts placed by time among others' posts", async () => {
      const later = { post: view(bobPost, bob, iso(Date.now() + HOUR)) };
      const earlier = { post: view(old, alice, iso(Date.now() - HOUR)) };
      const out = await merge("app.bsky.feed.getTimeline", { feed: [later, earlier] });
      expect(out.feed.map((i: any) => i.post.uri)).toEqual([bobPost.uri, quote.uri, reply.uri, fresh.uri, old.uri]);
    });

    test("getPostThread: the viewer's new reply under its parent", async () => {
      const thread = { $type: "app.bsky.feed.defs#threadViewPost", post: view(old, alice, iso(Date.now() - HOUR)), replies: [] };
      const out = await merge("app.bsky.feed.getPostThread", { thread });
      expect(out.thread.post.uri).toBe(old.uri);
      expect(out.thread.replies.map((r: any) => r.post.uri)).toEqual([reply.uri]);
      expect(out.thread.replies[0].$type).toBe("app.bsky.feed.defs#threadViewPost");
      const notFound = { $type: "app.bsky.feed.defs#notFoundPost", uri: old.uri, notFound: true };
      expect(await merge("app.bsky.feed.getPostThread", { thread: notFound })).toBeNull();
    });

    test.each(["did", "handle"])("getPostThread NotFound for the viewer's new post (uri by %s): the thread built locally", async (by) => {
      const uri = by === "did" ? fresh.uri : fresh.uri.replace(alice.did, alice.handle);
      const out = await merge("app.bsky.feed.getPostThread", { error: "NotFound", message: "Post not found" }, { uri });
      expect(out.thread).toMatchObject({ $type: "app.bsky.feed.defs#threadViewPost", post: { uri: fresh.uri, cid: fresh.cid } });
    });

    test("getPostThread NotFound for a post the viewer did not just write: unchanged", async () => {
      const notFound = { error: "NotFound", message: "Post not found" };
      expect(await merge("app.bsky.feed.getPostThread", notFound, { uri: bobPost.uri })).toBeNull();
      expect(await merge("app.bsky.feed.getPostThread", notFound, { uri: old.uri })).toBeNull();
      expect(await merge("app.bsky.feed.getPostThread", notFound)).toBeNull();
    });

    test("getActorLikes: a new like of the viewer's own post on top, with the viewer's like on it", async () => {
      const out = await merge("app.bsky.feed.getActorLikes", { feed: [{ post: view(bobPost, bob, iso(Date.now() - HOUR)) }] }, { actor: alice.did });
      expect(out.feed.map((i: any) => i.post.uri)).toEqual([old.uri, bobPost.uri]);
      expect(out.feed[0].post.viewer).toEqual({ like: like.uri });
      expect(await merge("app.bsky.feed.getActorLikes", { feed: [{ post: view(old, alice, iso(Date.now() - HOUR)) }] })).toMatchObject({
        feed: [{ post: { uri: old.uri, author: { displayName: "New Name" } } }],
      });
    });

    test("an upstream as far as or ahead of the repo, or with an unusable rev: null", async () => {
      const body = { feed: [{ post: view(old, alice, iso(Date.now() - HOUR)) }] };
      expect(await merge("app.bsky.feed.getAuthorFeed", body, {}, head)).toBeNull();
      expect(await merge("app.bsky.feed.getAuthorFeed", body, {}, TID.next().toString())).toBeNull();
      expect(await merge("app.bsky.feed.getAuthorFeed", body, {}, "not-a-rev")).toBeNull();
      // Older than every record of the repo: not a rev of this repository (e.g. an account moved here).
      expect(await merge("app.bsky.feed.getAuthorFeed", body, {}, "2222222222222")).toBeNull();
    });

    test("a viewer with no newer records: null", async () => {
      const body = { ...author(bob, "Bob") };
      const out = await readAfterWrite({ ctx, nsid: "app.bsky.actor.getProfile", viewer: bob.did, upstreamRev: bobPost.rev, body });
      expect(out).toBeNull();
    });

    test(`at most ${LOCAL_RECORDS_LIMIT} newer records, the oldest first, are merged into one response`, async () => {
      const carol = await newAccount(ctx, "carol");
      const first = await write(carol, "app.bsky.feed.post", post("seen"));
      const made: string[] = [];
      for (let i = 0; i < LOCAL_RECORDS_LIMIT + 2; i++) made.push((await write(carol, "app.bsky.feed.post", post(`new ${i}`))).uri);
      const out: any = await readAfterWrite({ ctx, nsid: "app.bsky.feed.getTimeline", viewer: carol.did, upstreamRev: first.rev, body: { feed: [] } });
      expect(out.feed.map((i: any) => i.post.uri)).toEqual(made.slice(0, LOCAL_RECORDS_LIMIT).reverse());
    });

    test.each([
      ["a string", "app.bsky.feed.getTimeline", "nonsense"],
      ["null", "app.bsky.feed.getTimeline", null],
      ["a feed that is not a list", "app.bsky.feed.getTimeline", { feed: "x" }],
      ["a post without an author", "app.bsky.feed.getTimeline", { feed: [{ post: { uri: "at://x/y/z", cid: "c", record: {}, indexedAt: "now" } }] }],
      ["a profile without a handle", "app.bsky.actor.getProfile", { did: "did:plc:x" }],
      ["profiles not a list", "app.bsky.actor.getProfiles", { profiles: {} }],
      ["an error other than NotFound", "app.bsky.feed.getPostThread", { error: "InternalServerError" }],
      ["a method that is not munged", "app.bsky.graph.getFollows", { follows: [] }],
    ])("a malformed upstream body (%s): null, never an error", async (_name, nsid, body) => {
      expect(await merge(nsid, body, { uri: fresh.uri })).toBeNull();
    });
  });
}
