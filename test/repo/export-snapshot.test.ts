/**
 * getRepo against concurrent commits, through the HTTP stack on both backend
 * sets: the client reads the CAR slowly and a commit lands between every two
 * chunks (each commit deletes blocks the exported root still needs); the CAR
 * must still be the complete repository at one commit and verify. Filler
 * blocks make the export many pages long, more than the HTTP stack reads
 * ahead, so the later pages really are read after those commits. And exports
 * a client abandons must give their snapshot (and on PostgreSQL the cursor's
 * connection) back.
 */
import { expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { verifyRepoCar } from "@atproto/repo";
import { blobCid } from "@/blob/upload";
import { EXPORT_PAGE } from "@/repo/car-export";
import { BACKENDS, postgresS3, repoHarness, sqliteDisk } from "./backends";
import type { TestContext } from "@test/support/context";

const RECORDS = 400;
const FILLER = 8000;
const big = () => ({ $type: "com.example.big", data: randomBytes(1000).toString("hex") });

test.each(BACKENDS.map((make) => make()).map((backend) => [backend.name, backend] as const))(
  "getRepo on %s: a slowly read export verifies at the commit it started from while commits replace its blocks",
  async (_name, backend) => {
    const ctx = await backend.open();
    try {
      await raceExport(ctx);
    } finally {
      await ctx.close();
      await backend.dispose();
    }
  },
  60_000,
);

// A pool of 3: an abandoned export that kept its cursor's connection would leave none after a few.
test.each([sqliteDisk, postgresS3({ maxConnections: 3 })].map((backend) => [backend.name, backend] as const))(
  "getRepo on %s: exports abandoned after their first chunk end their snapshot and hold nothing",
  async (_name, backend) => {
    const ctx = await backend.open();
    try {
      const h = repoHarness(ctx);
      const { did, key } = await h.newRepo();
      await fill(ctx, did, 4 * EXPORT_PAGE);
      for (let i = 0; i < 12; i++) {
        const res = await ctx.request(`/xrpc/com.atproto.sync.getRepo?did=${did}`);
        const reader = res.body!.getReader();
        expect((await reader.read()).done).toBe(false);
        await reader.cancel();
      }
      // The connections are back: writes and a whole export still run.
      await h.repo.createRecord(did, { collection: "com.example.big", record: big() });
      const res = await ctx.request(`/xrpc/com.atproto.sync.getRepo?did=${did}`);
      const verified = await verifyRepoCar(new Uint8Array(await res.arrayBuffer()), did, key.did());
      expect(verified.creates).toHaveLength(1);
    } finally {
      await ctx.close();
      await backend.dispose();
    }
  },
  60_000,
);

/** `count` unreferenced 1 KiB blocks of `did`: exported like any other, ignored by verification. */
async function fill(ctx: TestContext, did: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    const rows = Array.from({ length: Math.min(500, count - i) }, () => {
      const content = randomBytes(1024);
      return { did, cid: blobCid(createHash("sha256").update(content).digest()).toString(), rev: "3kaaaaaaaaaa2", size: 1024, content };
    });
    await ctx.db.db().insertInto("repo_block").values(rows).execute();
  }
}

async function raceExport(ctx: TestContext): Promise<void> {
  const h = repoHarness(ctx);
  const { did, key } = await h.newRepo();
  const rkeys = Array.from({ length: RECORDS }, (_, i) => `r${String(i).padStart(4, "0")}`);
  for (let i = 0; i < RECORDS; i += 200) {
    const writes = rkeys.slice(i, i + 200).map((rkey) => ({
      $type: "com.atproto.repo.applyWrites#create" as const,
      collection: "com.example.big",
      rkey,
      value: big(),
    }));
    await h.repo.applyWrites(did, { writes });
  }
  await fill(ctx, did, FILLER);
  expect(FILLER + RECORDS).toBeGreaterThan(EXPORT_PAGE * 10);
  const startRoot = (await h.repo.reader.getRoot(did))!;

  const res = await ctx.request(`/xrpc/com.atproto.sync.getRepo?did=${did}`);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let commits = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    // The slow consumer: before the next chunk is asked for, a record is rewritten (its old blocks deleted).
    for (let n = 0; n < 1; n++, commits++) {
      const rkey = rkeys[(commits * 37) % RECORDS]!;
      await h.repo.putRecord(did, { collection: "com.example.big", rkey, record: big() });
    }
  }
  expect(commits).toBeGreaterThan(10);
  const car = new Uint8Array(Buffer.concat(chunks));
  const verified = await verifyRepoCar(car, did, key.did());
  expect(verified.commit.rev).toBe(startRoot.rev);
  expect(verified.creates).toHaveLength(RECORDS);
  expect((await h.repo.reader.getRoot(did))!.rev > startRoot.rev).toBe(true);
}
