/**
 * A commit that references a temporary blob moves it to permanent storage
 * inside the transaction (src/blob/refs.ts linkBlobs), before the commit, so
 * an acknowledged record never points at a missing blob. If that commit then
 * fails (a full disk, a lost connection), the database rolls back but the
 * store does not: the row is temporary again and the bytes sit under their
 * permanent name. The sweeper must remove those bytes with the row, or they
 * leak for good (found by test/faults/disk-full.e2e.ts).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { type TestContext, testContext } from "@test/support/context";
import { fakePng } from "@test/support/blobs";
import { repoHarness } from "@test/repo/backends";
import { sweepTempBlobs } from "./sweeper";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext();
});
afterAll(() => ctx.close());

test("sweeping a temporary blob whose claiming commit rolled back removes its permanent copy too", async () => {
  const h = repoHarness(ctx);
  const { did } = await h.newRepo();
  const blob = await h.blobs.upload(did, [randomBytes(300)], "application/octet-stream");
  const cid = blob.ref.$link;
  const row = await ctx.db.db().selectFrom("blob").select("temp_key").where("did", "=", did).where("cid", "=", cid).executeTakeFirstOrThrow();
  // What a rolled-back commit leaves behind: the store moved the bytes, the row still names the temp key.
  await ctx.blobs.makePermanent(row.temp_key!, did, cid);
  expect(await ctx.blobs.stat(did, cid)).toMatchObject({ size: 300 });

  const swept = await sweepTempBlobs(h.blobs, 0);
  expect(swept.rows).toBe(1);
  expect(await ctx.db.db().selectFrom("blob").select("cid").where("did", "=", did).execute()).toEqual([]);
  expect(await ctx.blobs.stat(did, cid)).toBeNull();
});

test("the sweeper leaves the permanent copy of a blob a committed record claimed", async () => {
  const h = repoHarness(ctx);
  const { did } = await h.newRepo();
  const blob = await h.blobs.upload(did, [fakePng(300)], "image/png");
  await h.repo.createRecord(did, {
    collection: "app.bsky.feed.post",
    record: { $type: "app.bsky.feed.post", text: "kept", createdAt: new Date().toISOString(), embed: { $type: "app.bsky.embed.images", images: [{ image: blob, alt: "" }] } },
  });
  expect((await sweepTempBlobs(h.blobs, 0)).rows).toBe(0);
  expect(await ctx.blobs.stat(did, blob.ref.$link)).toMatchObject({ size: blob.size });
});
