import { afterAll, afterEach, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { randomBytes } from "node:crypto";
import postgresjs from "postgres";
import type { UserConfig } from "@/config/schema";
import { postgres } from "@plugins/db-postgres";
import { type TestContext, testContext } from "@test/support/context";
import { STORAGE_REFRESH_MS } from "./metrics";

const DID = "did:plc:blobmetricstestaaaaaaaaa";

interface Backend {
  label: string;
  prepare(): Promise<{ user: UserConfig; dispose(): Promise<void> }>;
}

const backends: Backend[] = [
  { label: "sqlite", prepare: async () => ({ user: {}, dispose: async () => {} }) },
  {
    label: "postgres",
    async prepare() {
      const base = process.env.AURORA_TEST_POSTGRES_URL;
      if (!base) throw new Error("AURORA_TEST_POSTGRES_URL unset: run via scripts/with-services.ts");
      const name = `aurora_blobmetrics_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      const admin = postgresjs(base, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${name}`);
      const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
      return {
        user: { db: postgres({ url, maxConnections: 3 }) },
        async dispose() {
          await admin.unsafe(`drop database if exists ${name} with (force)`);
          await admin.end();
        },
      };
    },
  },
];

for (const backend of backends) {
  describe(`aurora_blob_storage_bytes is cheap to scrape (${backend.label})`, () => {
    let ctx: TestContext;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      const prepared = await backend.prepare();
      dispose = prepared.dispose;
      ctx = await testContext({ log: { level: "warn" }, ...prepared.user });
    });
    afterAll(async () => {
      await ctx?.close();
      await dispose?.();
    });
    afterEach(() => setSystemTime());

    /** The value of one sample line of the scrape, 0 when absent. */
    const sample = (text: string, prefix: string) => Number(text.split("\n").find((l) => l.startsWith(prefix))?.split(" ").pop() ?? 0);
    const scrape = async () => {
      const text = await (await ctx.request("/metrics")).text();
      return {
        bytes: sample(text, `aurora_blob_storage_bytes{backend="${ctx.blobs.name}"}`),
        blobSelects: sample(text, 'aurora_db_queries_total{operation="SELECT",table="blob"}'),
      };
    };

    test("the total is read once per STORAGE_REFRESH_MS, not per scrape; this node's uploads show at once", async () => {
      // The first scrape reads the total; its query is counted in the scrape after it.
      await scrape();
      const first = await scrape();
      for (let i = 0; i < 5; i++) expect((await scrape()).blobSelects).toBe(first.blobSelects);
      await Promise.all(Array.from({ length: 5 }, scrape));
      expect((await scrape()).blobSelects).toBe(first.blobSelects);

      await ctx.blobService.upload(DID, [randomBytes(3000)], "application/octet-stream");
      const afterUpload = await scrape();
      expect(afterUpload.bytes).toBe(first.bytes + 3000);
      // Uploading the same bytes again stores nothing new.
      const again = randomBytes(1000);
      await ctx.blobService.upload(DID, [again], "application/octet-stream");
      await ctx.blobService.upload(DID, [again], "application/octet-stream");
      expect((await scrape()).bytes).toBe(first.bytes + 4000);

      // Each upload looks its blob row up once; the scrapes add nothing to that.
      const uploadSelects = (await scrape()).blobSelects - first.blobSelects;
      expect(uploadSelects).toBe(3);
      setSystemTime(new Date(Date.now() + STORAGE_REFRESH_MS));
      const reread = await scrape();
      expect(reread.bytes).toBe(first.bytes + 4000);
      const settled = await scrape();
      expect(settled.blobSelects).toBe(first.blobSelects + uploadSelects + 1);
      expect((await scrape()).blobSelects).toBe(settled.blobSelects);
    });

    test("rows removed behind this node's back (another node, a sweep) show at the next read", async () => {
      const before = (await scrape()).bytes;
      await ctx.db.db().deleteFrom("blob").where("did", "=", DID).execute();
      expect((await scrape()).bytes).toBe(before);
      setSystemTime(new Date(Date.now() + 2 * STORAGE_REFRESH_MS));
      expect((await scrape()).bytes).toBe(before - 4000);
    });
  });
}
