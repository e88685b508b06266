/**
 * The repository and blob services on both backend sets, below HTTP: the one
 * write path, swaps, validation, block and blob clean-up, concurrency and the
 * CAR exports (every CAR verified with @atproto/repo).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { TID } from "@atproto/common-web";
import { MST, readCarWithRoot, verifyRepoCar } from "@atproto/repo";
import { Registry } from "prom-client";
import { BlobService } from "@/blob/service";
import { sweepTempBlobs } from "@/blob/sweeper";
import { repoCarStream } from "@/repo/car-export";
import { recordValue } from "@/repo/record-body";
import { BACKENDS, repoHarness } from "./backends";
import type { TestContext } from "@test/support/context";
import { fakePng } from "@test/support/blobs";

const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });
const bytesOf = async (stream: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(stream).arrayBuffer());
const PNG = fakePng(3000);

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`repository service on ${backend.name}`, () => {
    let ctx: TestContext;
    let h: ReturnType<typeof repoHarness>;
    beforeAll(async () => {
      ctx = await backend.open();
      h = repoHarness(ctx);
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
    });

    /** The whole repo as a verified CAR: its records by path, and the block CIDs it holds. */
    async function exported(did: string, signingDidKey: string) {
      const car = await bytesOf(repoCarStream(ctx.db, did));
      const verified = await verifyRepoCar(car, did, signingDidKey);
      const { blocks } = await readCarWithRoot(car);
      return { verified, paths: verified.creates.map((c) => `${c.collection}/${c.rkey}`).sort(), blocks: blocks.size };
    }

    test("create, read, list, update and delete records; each CAR verifies and holds exactly the live records", async () => {
      const { did, key } = await h.newRepo();
      const a = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("first") });
      expect(a.uri.startsWith(`at://${did}/app.bsky.feed.post/`)).toBe(true);
      expect(a.validationStatus).toBe("valid");
      const b = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("second") });
      expect(b.commit.rev > a.commit.rev).toBe(true);
      const profile = await h.repo.putRecord(did, {
        collection: "app.bsky.actor.profile",
        rkey: "self",
        record: { $type: "app.bsky.actor.profile", displayName: "Alice" },
      });
      expect(profile.commit).toBeDefined();

      const rkeyA = a.uri.split("/").pop()!;
      const got = await h.repo.reader.getRecord(did, "app.bsky.feed.post", rkeyA);
      expect(got).toMatchObject({ uri: a.uri, cid: a.cid });
      expect(recordValue(got!)).toMatchObject({ text: "first" });
      const listed = await h.repo.reader.listRecords(did, "app.bsky.feed.post", {});
      expect(listed.records.map((r) => r.uri)).toEqual([b.uri, a.uri]);
      expect(await h.repo.reader.listCollections(did)).toEqual(["app.bsky.actor.profile", "app.bsky.feed.post"]);

      // The same put again changes nothing and makes no commit.
      const again = await h.repo.putRecord(did, {
        collection: "app.bsky.actor.profile",
        rkey: "self",
        record: { $type: "app.bsky.actor.profile", displayName: "Alice" },
      });
      expect(again.commit).toBeUndefined();
      expect(again.cid).toBe(profile.cid);

      await h.repo.putRecord(did, { collection: "app.bsky.feed.post", rkey: rkeyA, record: post("edited") });
      expect(recordValue((await h.repo.reader.getRecord(did, "app.bsky.feed.post", rkeyA))!)).toMatchObject({ text: "edited" });
      const del = await h.repo.deleteRecord(did, { collection: "app.bsky.feed.post", rkey: b.uri.split("/").pop()! });
      expect(del.commit).toBeDefined();
      expect(await h.repo.deleteRecord(did, { collection: "app.bsky.feed.post", rkey: TID.nextStr() })).toEqual({});

      const car = await exported(did, key.did());
      expect(car.paths).toEqual([`app.bsky.actor.profile/self`, `app.bsky.feed.post/${rkeyA}`]);
      // Unreachable blocks are gone: the block table holds exactly what the CAR holds.
      const stored = await ctx.db.db().selectFrom("repo_block").select("cid").where("did", "=", did).execute();
      expect(stored.length).toBe(car.blocks);
    });

    test("identical records share a block; deleting one keeps the block for the other", async () => {
      const { did, key } = await h.newRepo();
      const record = { $type: "app.bsky.feed.like", subject: { uri: `at://${did}/app.bsky.feed.post/3kabcdefghij2`, cid: "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454" }, createdAt: "2024-01-01T00:00:00.000Z" };
      const one = await h.repo.createRecord(did, { collection: "app.bsky.feed.like", record });
      const two = await h.repo.createRecord(did, { collection: "app.bsky.feed.like", record });
      expect(one.cid).toBe(two.cid);
      await h.repo.deleteRecord(did, { collection: "app.bsky.feed.like", rkey: one.uri.split("/").pop()! });
      expect(await h.repo.reader.getRecord(did, "app.bsky.feed.like", two.uri.split("/").pop()!)).not.toBeNull();
      expect((await exported(did, key.did())).paths).toEqual([`app.bsky.feed.like/${two.uri.split("/").pop()}`]);
    });

    test("record reads: values read before and not yet read mix in one page in order; a record whose block is gone is left out, not an error", async () => {
      const { did } = await h.newRepo();
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post(`post ${i}`) }));
      const rkey = (uri: string) => uri.split("/").pop()!;
      // Two of them read first, so their values are the reader's already.
      for (const i of [1, 3]) expect((recordValue((await h.repo.reader.getRecord(did, "app.bsky.feed.post", rkey(made[i]!.uri)))!) as { text: string }).text).toBe(`post ${i}`);
      const texts = async (opts = {}) =>
        (await h.repo.reader.listRecords(did, "app.bsky.feed.post", opts)).records.map((r) => [r.cid, (recordValue(r) as { text: string }).text]);
      const expected = made.map((m, i) => [m.cid, `post ${i}`]).reverse();
      expect(await texts()).toEqual(expected);
      expect(await texts({ reverse: true, limit: 2 })).toEqual(expected.slice(3).reverse());

      // A delete landing between a page's query and its values' read: the record has no block any more.
      const gone = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("gone") });
      await ctx.db.db().deleteFrom("repo_block").where("did", "=", did).where("cid", "=", gone.cid).execute();
      expect(await texts()).toEqual(expected);
      expect(await h.repo.reader.getRecord(did, "app.bsky.feed.post", rkey(gone.uri))).toBeNull();
      // The page still ends where the query's rows end: its cursor is the last key listed by the query.
      const page = await h.repo.reader.listRecords(did, "app.bsky.feed.post", { limit: 1 });
      expect(page).toEqual({ records: [], cursor: rkey(gone.uri) });
    });

    test("swapCommit and swapRecord are honoured (400 InvalidSwap) and a refused write changes nothing", async () => {
      const { did } = await h.newRepo();
      const first = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("one") });
      const stale = (await h.repo.reader.getRoot(did))!.cid;
      await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("two") });
      const before = await h.repo.reader.getRoot(did);
      await expect(
        h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("x"), swapCommit: stale }),
      ).rejects.toMatchObject({ status: 400, error: "InvalidSwap" });
      const rkey = first.uri.split("/").pop()!;
      await expect(
        h.repo.putRecord(did, { collection: "app.bsky.feed.post", rkey, record: post("y"), swapRecord: null }),
      ).rejects.toMatchObject({ error: "InvalidSwap" });
      await expect(
        h.repo.deleteRecord(did, { collection: "app.bsky.feed.post", rkey, swapRecord: "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454" }),
      ).rejects.toMatchObject({ error: "InvalidSwap" });
      expect(await h.repo.reader.getRoot(did)).toEqual(before);
      const ok = await h.repo.putRecord(did, { collection: "app.bsky.feed.post", rkey, record: post("z"), swapRecord: first.cid, swapCommit: before!.cid });
      expect(ok.commit).toBeDefined();
    });

    test.each([
      ["a float", { $type: "app.bsky.feed.post", text: "x", createdAt: "2024-01-01T00:00:00Z", n: 1.5 }, "Record/n"],
      ["$type not the collection", { $type: "app.bsky.feed.like", text: "x" }, "Record/$type"],
      ["a lexicon violation", { $type: "app.bsky.feed.post", text: 12, createdAt: "2024-01-01T00:00:00Z" }, "Record/text"],
      ["a missing required field", { $type: "app.bsky.feed.post", text: "no date" }, "createdAt"],
    ])("a record with %s is refused naming the field, and nothing is written", async (_name, record, field) => {
      const { did } = await h.newRepo();
      const before = await h.repo.reader.getRoot(did);
      const err = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record }).catch((e) => e);
      expect(err).toMatchObject({ status: 400, error: "InvalidRequest" });
      expect(err.message).toContain(field);
      expect(await h.repo.reader.getRoot(did)).toEqual(before);
      expect(await ctx.db.db().selectFrom("record").select("uri").where("did", "=", did).execute()).toEqual([]);
    });

    test("validate: false skips the lexicon (status unknown); unknown lexicons pass unless validate is true", async () => {
      const { did } = await h.newRepo();
      const loose = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: { text: 5 }, validate: false });
      expect(loose.validationStatus).toBe("unknown");
      const custom = await h.repo.createRecord(did, { collection: "com.example.thing", record: { a: 1 } });
      expect(custom.validationStatus).toBe("unknown");
      await expect(
        h.repo.createRecord(did, { collection: "com.example.thing", record: { a: 1 }, validate: true }),
      ).rejects.toMatchObject({ error: "InvalidRequest" });
    });

    test("applyWrites commits up to 200 writes at once, all or nothing", async () => {
      const { did, key } = await h.newRepo();
      const writes = Array.from({ length: 200 }, (_, i) => ({
        $type: "com.atproto.repo.applyWrites#create" as const,
        collection: "app.bsky.feed.post",
        rkey: TID.nextStr(),
        value: post(`bulk ${i}`),
      }));
      const res = await h.repo.applyWrites(did, { writes });
      expect(res.results).toHaveLength(200);
      expect((await exported(did, key.did())).paths).toHaveLength(200);
      await expect(h.repo.applyWrites(did, { writes: [...writes, writes[0]!] })).rejects.toMatchObject({ status: 400 });
      const mixed = await h.repo
        .applyWrites(did, {
          writes: [
            { $type: "com.atproto.repo.applyWrites#delete", collection: "app.bsky.feed.post", rkey: writes[0]!.rkey },
            { $type: "com.atproto.repo.applyWrites#create", collection: "app.bsky.feed.post", value: { text: 1 } },
          ],
        })
        .catch((e) => e);
      expect(mixed.message).toContain("Input/writes/1");
      expect((await exported(did, key.did())).paths).toHaveLength(200);
    });

    test("16 concurrent writers: every acknowledged write is present and revs strictly increase", async () => {
      const { did, key } = await h.newRepo();
      const revs: string[] = [];
      h.repo.transactor.onCommit(async (_tx, commit) => {
        if (commit.did === did) revs.push(commit.rev);
      });
      const acked = await Promise.all(
        Array.from({ length: 16 }, (_, w) =>
          (async () => {
            const uris: string[] = [];
            for (let i = 0; i < 4; i++) {
              uris.push((await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post(`w${w} #${i}`) })).uri);
            }
            return uris;
          })(),
        ),
      );
      const all = acked.flat();
      expect(all).toHaveLength(64);
      const car = await exported(did, key.did());
      expect(car.paths).toEqual(all.map((u) => u.split("/").slice(3).join("/")).sort());
      expect(revs).toHaveLength(64);
      for (let i = 1; i < revs.length; i++) expect(revs[i]! > revs[i - 1]!).toBe(true);
    });

    test("blobs: upload is temporary, a committed reference makes it permanent, losing the last reference deletes it", async () => {
      const { did } = await h.newRepo();
      const ref = await h.blobs.upload(did, [PNG], "application/octet-stream");
      expect(ref).toMatchObject({ $type: "blob", mimeType: "image/png", size: PNG.length });
      const cid = ref.ref.$link;
      expect(cid.startsWith("bafkrei")).toBe(true);
      await expect(h.blobs.read(did, cid)).rejects.toMatchObject({ error: "BlobNotFound" });

      const withImage = {
        $type: "app.bsky.feed.post",
        text: "look",
        createdAt: new Date().toISOString(),
        embed: { $type: "app.bsky.embed.images", images: [{ image: ref, alt: "noise" }] },
      };
      const one = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: withImage });
      const two = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: { ...withImage, text: "again" } });
      const read = await h.blobs.read(did, cid);
      expect(read.mimeType).toBe("image/png");
      expect(await bytesOf(read.stream)).toEqual(PNG);
      expect((await h.blobs.list(did, {})).cids).toEqual([cid]);

      await h.repo.deleteRecord(did, { collection: "app.bsky.feed.post", rkey: one.uri.split("/").pop()! });
      expect(await ctx.blobs.stat(did, cid)).not.toBeNull();
      await h.repo.deleteRecord(did, { collection: "app.bsky.feed.post", rkey: two.uri.split("/").pop()! });
      expect(await ctx.blobs.stat(did, cid)).toBeNull();
      expect(await ctx.db.db().selectFrom("blob").select("cid").where("did", "=", did).execute()).toEqual([]);
    });

    test("blob references are checked: missing, wrong MIME type, not accepted, too large", async () => {
      const { did } = await h.newRepo();
      const text = await h.blobs.upload(did, [new TextEncoder().encode("plain text")], "text/plain");
      const png = await h.blobs.upload(did, [PNG], "image/png");
      const missing = { ...png, ref: { $link: "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity" } };
      const profile = (avatar: unknown) => ({ $type: "app.bsky.actor.profile", avatar });
      const cases: [unknown, string][] = [
        [missing, "not found"],
        [{ ...png, mimeType: "image/jpeg" }, "Record/avatar/mimeType"],
        [text, "not accepted"],
      ];
      for (const [avatar, message] of cases) {
        const err = await h.repo
          .putRecord(did, { collection: "app.bsky.actor.profile", rkey: "self", record: profile(avatar) })
          .catch((e) => e);
        expect(err).toMatchObject({ status: 400, error: "InvalidRequest" });
        expect(err.message).toContain(message);
      }
      const big = new Uint8Array(1_000_001);
      big.set(PNG.subarray(0, 8));
      const large = await h.blobs.upload(did, [big], "image/png");
      const err = await h.repo
        .putRecord(did, { collection: "app.bsky.actor.profile", rkey: "self", record: profile(large) })
        .catch((e) => e);
      expect(err.message).toContain("maximum 1000000");
      expect(await h.repo.reader.getRecord(did, "app.bsky.actor.profile", "self")).toBeNull();
    });

    test("uploads over the limit fail with 413 BlobTooLarge and leave nothing behind", async () => {
      const { did } = await h.newRepo();
      const limit = 1024 * 1024;
      const small = new BlobService(ctx.db, ctx.blobs, { uploadLimit: limit, log: ctx.log, registry: new Registry() });
      await expect(small.upload(did, [], "image/png", limit + 1)).rejects.toMatchObject({ status: 413, error: "BlobTooLarge" });
      const chunk = new Uint8Array(64 * 1024);
      async function* endless() {
        for (let i = 0; i < 1000; i++) yield chunk;
      }
      await expect(small.upload(did, endless(), "image/png")).rejects.toMatchObject({ status: 413, error: "BlobTooLarge" });
      expect(await ctx.db.db().selectFrom("blob").select("cid").where("did", "=", did).execute()).toEqual([]);
      // Exactly at the limit is fine.
      const full = await small.upload(did, Array.from({ length: 16 }, () => chunk), "application/octet-stream");
      expect(full.size).toBe(limit);
    });

    test("the sweeper removes temporary blobs older than an hour, not newer ones nor referenced ones", async () => {
      const { did } = await h.newRepo();
      const old = await h.blobs.upload(did, [randomBytes(100)], "application/octet-stream");
      const fresh = await h.blobs.upload(did, [randomBytes(100)], "application/octet-stream");
      const hourAgo = new Date(Date.now() - 61 * 60 * 1000).toISOString();
      await ctx.db.db().updateTable("blob").set({ created_at: hourAgo }).where("cid", "=", old.ref.$link).execute();
      const swept = await sweepTempBlobs(h.blobs);
      expect(swept.rows).toBeGreaterThanOrEqual(1);
      const left = await ctx.db.db().selectFrom("blob").select("cid").where("did", "=", did).execute();
      expect(left.map((r) => r.cid)).toEqual([fresh.ref.$link]);
    });

    test("getRepo since and getBlocks-style reads: a since-CAR holds only later blocks", async () => {
      const { did, key } = await h.newRepo();
      const first = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("a") });
      await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("b") });
      const root = (await h.repo.reader.getRoot(did))!;
      const diff = await bytesOf(repoCarStream(ctx.db, did, first.commit.rev));
      const { root: carRoot, blocks } = await readCarWithRoot(diff);
      expect(carRoot.toString()).toBe(root.cid);
      const later = await ctx.db.db().selectFrom("repo_block").select("cid").where("did", "=", did).where("rev", ">", first.commit.rev).execute();
      expect(blocks.size).toBe(later.length);
      const full = await exported(did, key.did());
      expect(blocks.size).toBeLessThan(full.blocks);
      expect(MST).toBeDefined();
    });
  });
}
