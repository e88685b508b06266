/**
 * End to end with the real client (@atproto/api) against a listening server
 * and a real PLC directory, on SQLite + disk and on PostgreSQL + S3: posts,
 * likes, a profile and an image post; reads, pages, updates, deletes,
 * applyWrites, swaps and refusals; then every CAR the server hands out is
 * verified with @atproto/repo against the key in the DID document.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { AtpAgent } from "@atproto/api";
import { verifyRecords, verifyRepoCar } from "@atproto/repo";
import { type RunningServer, listen } from "@/http/server";
import { BACKENDS } from "./backends";
import { type TestPlc, startPlc } from "@test/support/plc";
import { freePort } from "@test/support/services";
import type { TestContext } from "@test/support/context";
import { fakePng } from "@test/support/blobs";

const PNG = fakePng(20_000);
const now = () => new Date().toISOString();

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`repositories end to end on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let server: RunningServer;
    let agent: AtpAgent;
    let did: string;
    let service: string;

    beforeAll(async () => {
      plc = await startPlc();
      // The DID document names this server by its public URL, and the client follows it: fix the port first.
      const port = await freePort();
      service = `http://localhost:${port}`;
      ctx = await backend.open({
        identity: { plcUrl: plc.url },
        service: { inviteRequired: false, port, publicUrl: service },
        rateLimit: { enabled: false },
      });
      server = listen(ctx, port);
      agent = new AtpAgent({ service });
      const handle = `alice${randomBytes(3).toString("hex")}.test`;
      const res = await agent.createAccount({ handle, email: `${handle}@mail.test`, password: "correct horse battery" });
      did = res.data.did;
    });
    afterAll(async () => {
      await server?.shutdown();
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    const repo = () => agent.com.atproto.repo;
    const sync = () => agent.com.atproto.sync;
    const rkeyOf = (uri: string) => uri.split("/").pop()!;

    /** The signing key the DID's PLC data publishes (as a did:key). */
    async function didKey(): Promise<string> {
      const data = (await (await fetch(`${plc.url}/${did}/data`)).json()) as { verificationMethods?: { atproto?: string } };
      const key = data.verificationMethods?.atproto;
      if (!key) throw new Error("DID has no atproto signing key");
      return key;
    }

    /** Every live record of the repository, by `collection/rkey`, from listRecords. */
    async function liveRecords(): Promise<Map<string, string>> {
      const live = new Map<string, string>();
      const { data } = await repo().describeRepo({ repo: did });
      for (const collection of data.collections) {
        let cursor: string | undefined;
        for (let page = 0; page < 50; page++) {
          const res = await repo().listRecords({ repo: did, collection, limit: 100, cursor });
          for (const r of res.data.records) live.set(`${collection}/${rkeyOf(r.uri)}`, r.cid);
          cursor = res.data.cursor;
          if (!cursor) break;
        }
      }
      return live;
    }

    async function assertRepoCarMatches(): Promise<void> {
      const car = await sync().getRepo({ did });
      const verified = await verifyRepoCar(car.data, did, await didKey());
      const inCar = new Map(verified.creates.map((c) => [`${c.collection}/${c.rkey}`, c.cid.toString()]));
      expect(inCar).toEqual(await liveRecords());
    }

    test("write posts, likes, a profile and an image post; read them back and page through them", async () => {
      const upload = await agent.uploadBlob(PNG, { encoding: "image/png" });
      const image = upload.data.blob;
      expect(image.mimeType).toBe("image/png");
      expect(image.size).toBe(PNG.length);

      const posts = [];
      for (let i = 0; i < 5; i++) posts.push(await agent.post({ text: `post ${i}`, createdAt: now() }));
      const withImage = await agent.post({
        text: "a picture",
        createdAt: now(),
        embed: { $type: "app.bsky.embed.images", images: [{ image, alt: "noise" }] },
      });
      const like = await agent.like(posts[0]!.uri, posts[0]!.cid);
      await agent.upsertProfile(() => ({ displayName: "Alice", description: "testing" }));

      const got = await repo().getRecord({ repo: did, collection: "app.bsky.feed.post", rkey: rkeyOf(withImage.uri) });
      expect(got.data.cid).toBe(withImage.cid);
      expect(got.data.value).toMatchObject({ text: "a picture", embed: { images: [{ alt: "noise" }] } });
      expect((await repo().getRecord({ repo: did, collection: "app.bsky.feed.like", rkey: rkeyOf(like.uri) })).data.uri).toBe(like.uri);
      const profile = await repo().getRecord({ repo: did, collection: "app.bsky.actor.profile", rkey: "self" });
      expect(profile.data.value).toMatchObject({ displayName: "Alice" });

      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const res = await repo().listRecords({ repo: did, collection: "app.bsky.feed.post", limit: 2, cursor });
        seen.push(...res.data.records.map((r) => r.uri));
        cursor = res.data.cursor;
        if (!cursor) break;
      }
      const newestFirst = [withImage.uri, ...posts.map((p) => p.uri).reverse()];
      expect(seen).toEqual(newestFirst);
      const oldestFirst = await repo().listRecords({ repo: did, collection: "app.bsky.feed.post", reverse: true });
      expect(oldestFirst.data.records.map((r) => r.uri)).toEqual([...newestFirst].reverse());

      const blob = await fetch(`${service}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${image.ref.toString()}`);
      expect(blob.status).toBe(200);
      expect(blob.headers.get("content-type")).toBe("image/png");
      expect(blob.headers.get("content-length")).toBe(String(PNG.length));
      expect(blob.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
      expect(blob.headers.get("x-content-type-options")).toBe("nosniff");
      expect(new Uint8Array(await blob.arrayBuffer())).toEqual(PNG);
      expect((await sync().listBlobs({ did })).data.cids).toEqual([image.ref.toString()]);
      await assertRepoCarMatches();
    });

    test("update and delete; applyWrites; swap conflicts; invalid records refused", async () => {
      const post = await agent.post({ text: "to edit", createdAt: now() });
      const rkey = rkeyOf(post.uri);
      const put = await repo().putRecord({
        repo: did,
        collection: "app.bsky.feed.post",
        rkey,
        record: { $type: "app.bsky.feed.post", text: "edited", createdAt: now() },
        swapRecord: post.cid,
      });
      expect(put.data.cid).not.toBe(post.cid);
      const stale = await repo()
        .putRecord({ repo: did, collection: "app.bsky.feed.post", rkey, record: { text: "x", createdAt: now() }, swapRecord: post.cid })
        .catch((e) => e);
      expect(stale).toMatchObject({ status: 400, error: "InvalidSwap" });
      const latest = await sync().getLatestCommit({ did });
      const staleCommit = await repo()
        .createRecord({ repo: did, collection: "app.bsky.feed.post", record: { text: "x", createdAt: now() }, swapCommit: "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454" })
        .catch((e) => e);
      expect(staleCommit).toMatchObject({ status: 400, error: "InvalidSwap" });
      expect((await sync().getLatestCommit({ did })).data).toEqual(latest.data);

      const bad = await repo()
        .createRecord({ repo: did, collection: "app.bsky.feed.post", record: { text: "no date" } })
        .catch((e) => e);
      expect(bad).toMatchObject({ status: 400, error: "InvalidRequest" });
      expect(bad.message).toContain("createdAt");
      const wrongType = await repo()
        .createRecord({ repo: did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.like", text: "x" } })
        .catch((e) => e);
      expect(wrongType.message).toContain("$type");

      const applied = await repo().applyWrites({
        repo: did,
        writes: [
          { $type: "com.atproto.repo.applyWrites#create", collection: "app.bsky.feed.post", value: { $type: "app.bsky.feed.post", text: "batch", createdAt: now() } },
          { $type: "com.atproto.repo.applyWrites#update", collection: "app.bsky.feed.post", rkey, value: { $type: "app.bsky.feed.post", text: "batched edit", createdAt: now() } },
        ],
      });
      expect(applied.data.results?.map((r) => r.$type)).toEqual([
        "com.atproto.repo.applyWrites#createResult",
        "com.atproto.repo.applyWrites#updateResult",
      ]);
      await repo().deleteRecord({ repo: did, collection: "app.bsky.feed.post", rkey });
      await expect(repo().getRecord({ repo: did, collection: "app.bsky.feed.post", rkey })).rejects.toMatchObject({ error: "RecordNotFound" });
      await assertRepoCarMatches();
    });

    test("another account cannot write to this repository", async () => {
      const other = new AtpAgent({ service });
      const handle = `bob${randomBytes(3).toString("hex")}.test`;
      await other.createAccount({ handle, email: `${handle}@mail.test`, password: "another good password" });
      const err = await other.com.atproto.repo
        .createRecord({ repo: did, collection: "app.bsky.feed.post", record: { text: "intruder", createdAt: now() } })
        .catch((e) => e);
      expect(err.status).toBe(403);
    });

    test("sync: getRecord proofs verify, status and listings agree", async () => {
      const post = await agent.post({ text: "proven", createdAt: now() });
      const proof = await sync().getRecord({ did, collection: "app.bsky.feed.post", rkey: rkeyOf(post.uri) });
      const claims = await verifyRecords(proof.data, did, await didKey());
      expect(claims).toHaveLength(1);
      expect(claims[0]).toMatchObject({ collection: "app.bsky.feed.post", rkey: rkeyOf(post.uri), record: { text: "proven" } });

      const latest = await sync().getLatestCommit({ did });
      expect(await sync().getRepoStatus({ did })).toMatchObject({ data: { did, active: true, rev: latest.data.rev } });
      const repos = await sync().listRepos({ limit: 1000 });
      expect(repos.data.repos.find((r) => r.did === did)).toMatchObject({ head: latest.data.cid, rev: latest.data.rev, active: true });
      const described = await repo().describeRepo({ repo: did });
      expect(described.data).toMatchObject({ did, handleIsCorrect: true });
      expect(described.data.collections).toContain("app.bsky.feed.post");
      const since = await sync().getRepo({ did, since: latest.data.rev });
      expect(since.data.byteLength).toBeLessThan((await sync().getRepo({ did })).data.byteLength);
    });

    test("16 concurrent writers over HTTP: every acknowledged write is present and the revs form one chain", async () => {
      const acked = (
        await Promise.all(
          Array.from({ length: 16 }, (_, w) =>
            (async () => {
              const out: { uri: string; rev: string }[] = [];
              for (let i = 0; i < 3; i++) {
                const res = await repo().createRecord({
                  repo: did,
                  collection: "app.bsky.feed.post",
                  record: { $type: "app.bsky.feed.post", text: `writer ${w} #${i}`, createdAt: now() },
                });
                out.push({ uri: res.data.uri, rev: res.data.commit!.rev });
              }
              return out;
            })(),
          ),
        )
      ).flat();
      const revs = acked.map((a) => a.rev);
      expect(new Set(revs).size).toBe(48);
      expect((await sync().getLatestCommit({ did })).data.rev).toBe([...revs].sort().at(-1)!);
      const live = await liveRecords();
      for (const { uri } of acked) expect(live.has(`app.bsky.feed.post/${rkeyOf(uri)}`)).toBe(true);
      await assertRepoCarMatches();
    });
  });
}
