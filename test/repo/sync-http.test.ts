/**
 * The sync endpoints and the read side of com.atproto.repo through the HTTP
 * stack (SQLite + disk): CARs verify, errors carry the lexicon's names, and
 * the blob metrics move.
 */
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readCar, verifyProofs, verifyRepoCar } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { STORAGE_REFRESH_MS } from "@/blob/metrics";
import { repoHarness } from "./backends";
import { type TestContext, testContext } from "@test/support/context";

let ctx: TestContext;
let h: ReturnType<typeof repoHarness>;
beforeAll(async () => {
  ctx = await testContext();
  h = repoHarness(ctx);
});
afterAll(() => ctx.close());

const get = async (path: string) => {
  const res = await ctx.request(`/xrpc/${path}`);
  return { status: res.status, type: res.headers.get("content-type"), body: new Uint8Array(await res.arrayBuffer()) };
};
const json = (body: Uint8Array) => JSON.parse(new TextDecoder().decode(body));
const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });

describe("sync over HTTP", () => {
  test("getLatestCommit, getRepo, getBlocks and getRecord (present and absent) serve verifiable data", async () => {
    const { did, key } = await h.newRepo();
    const made = await h.repo.createRecord(did, { collection: "app.bsky.feed.post", record: post("hello") });
    const rkey = made.uri.split("/").pop()!;

    const latest = await get(`com.atproto.sync.getLatestCommit?did=${did}`);
    expect(json(latest.body)).toEqual(made.commit);

    const repo = await get(`com.atproto.sync.getRepo?did=${did}`);
    expect(repo.type).toBe("application/vnd.ipld.car");
    const verified = await verifyRepoCar(repo.body, did, key.did());
    expect(verified.creates.map((c) => c.rkey)).toEqual([rkey]);

    const blocks = await get(`com.atproto.sync.getBlocks?did=${did}&cids=${made.cid}&cids=${made.commit.cid}`);
    const car = await readCar(blocks.body);
    expect(car.roots).toEqual([]);
    expect(car.blocks.size).toBe(2);

    const proof = await get(`com.atproto.sync.getRecord?did=${did}&collection=app.bsky.feed.post&rkey=${rkey}`);
    const proved = await verifyProofs(proof.body, [{ collection: "app.bsky.feed.post", rkey, cid: CID.parse(made.cid) as never }], did, key.did());
    expect(proved.verified).toHaveLength(1);
    const absent = await get(`com.atproto.sync.getRecord?did=${did}&collection=app.bsky.feed.post&rkey=3kaaaaaaaaaa2`);
    const provedAbsent = await verifyProofs(absent.body, [{ collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaaa2", cid: null }], did, key.did());
    expect(provedAbsent.verified).toHaveLength(1);
  });

  test.each([
    ["com.atproto.sync.getRepo?did=did:plc:nobodyhere0000000000000", 400, "RepoNotFound"],
    ["com.atproto.sync.getLatestCommit?did=did:plc:nobodyhere0000000000000", 400, "RepoNotFound"],
    ["com.atproto.sync.getRepoStatus?did=did:plc:nobodyhere0000000000000", 400, "RepoNotFound"],
    ["com.atproto.sync.getRepo?did=not-a-did", 400, "InvalidRequest"],
    ["com.atproto.repo.getRecord?repo=did:plc:nobodyhere0000000000000&collection=app.bsky.feed.post&rkey=x", 400, "RecordNotFound"],
    ["com.atproto.repo.listRecords?repo=nobody.test&collection=app.bsky.feed.post", 400, "RepoNotFound"],
    ["com.atproto.repo.listRecords?repo=did:plc:x&collection=a.b.c&limit=101", 400, "InvalidRequest"],
  ])("%s → %d %s", async (path, status, error) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(json(res.body).error).toBe(error);
  });

  test("missing blocks, missing blobs and deactivated repositories are refused with their error names", async () => {
    const { did } = await h.newRepo();
    const missing = await get(`com.atproto.sync.getBlocks?did=${did}&cids=bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454`);
    expect([missing.status, json(missing.body).error]).toEqual([400, "InvalidRequest"]);
    const blob = await get(`com.atproto.sync.getBlob?did=${did}&cid=bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity`);
    expect([blob.status, json(blob.body).error]).toEqual([400, "BlobNotFound"]);

    await ctx.db
      .db()
      .insertInto("account")
      .values({ did, handle: null, email: null, email_confirmed_at: null, password_hash: null, signing_key: new Uint8Array(1), created_at: new Date().toISOString(), deactivated_at: new Date().toISOString(), delete_after: null, takedown_ref: null })
      .execute();
    const repo = await get(`com.atproto.sync.getRepo?did=${did}`);
    expect([repo.status, json(repo.body).error]).toEqual([400, "RepoDeactivated"]);
    const status = await get(`com.atproto.sync.getRepoStatus?did=${did}`);
    expect(json(status.body)).toEqual({ did, active: false, status: "deactivated" });
  });

  test("listRepos pages by DID with head, rev and active; listBlobs pages by CID", async () => {
    const made = [await h.newRepo(), await h.newRepo(), await h.newRepo()];
    const seen: { did: string; head: string; rev: string; active: boolean }[] = [];
    let cursor = "";
    for (let page = 0; page < 100; page++) {
      const res = json((await get(`com.atproto.sync.listRepos?limit=2${cursor ? `&cursor=${cursor}` : ""}`)).body);
      seen.push(...res.repos);
      if (!res.cursor) break;
      cursor = res.cursor;
    }
    for (const { did } of made) {
      const root = await h.repo.reader.getRoot(did);
      expect(seen.find((r) => r.did === did)).toEqual({ did, head: root!.cid, rev: root!.rev, active: true });
    }

    const { did } = made[0]!;
    const cids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ref = await h.blobs.upload(did, [randomBytes(64)], "application/octet-stream");
      cids.push(ref.ref.$link);
      await h.repo.createRecord(did, { collection: "com.example.file", record: { file: ref } });
    }
    const page1 = json((await get(`com.atproto.sync.listBlobs?did=${did}&limit=2`)).body);
    const page2 = json((await get(`com.atproto.sync.listBlobs?did=${did}&limit=2&cursor=${page1.cursor}`)).body);
    expect([...page1.cids, ...page2.cids]).toEqual([...cids].sort());
    expect(page2.cursor).toBeUndefined();
  });

  test("blob metrics: uploads are counted and stored bytes follow uploads at once, deletions at the next read of the total", async () => {
    const { did } = await h.newRepo();
    const metric = async (name: string) => {
      const text = await (await ctx.request("/metrics")).text();
      const line = text.split("\n").find((l) => l.startsWith(`${name}{backend="storage-disk"}`));
      return Number(line?.split(" ").pop());
    };
    const uploads = await metric("aurora_blob_uploads_total");
    const bytes = await metric("aurora_blob_storage_bytes");
    const ref = await h.blobs.upload(did, [randomBytes(5000)], "application/octet-stream");
    expect(await metric("aurora_blob_uploads_total")).toBe(uploads + 1);
    expect(await metric("aurora_blob_storage_bytes")).toBe(bytes + 5000);
    const rec = await h.repo.createRecord(did, { collection: "com.example.file", record: { file: ref } });
    await h.repo.deleteRecord(did, { collection: "com.example.file", rkey: rec.uri.split("/").pop()! });
    // No table scan per scrape: the stored total is re-read once STORAGE_REFRESH_MS has passed.
    expect(await metric("aurora_blob_storage_bytes")).toBe(bytes + 5000);
    setSystemTime(new Date(Date.now() + STORAGE_REFRESH_MS));
    try {
      expect(await metric("aurora_blob_storage_bytes")).toBe(bytes);
    } finally {
      setSystemTime();
    }
  });
});
