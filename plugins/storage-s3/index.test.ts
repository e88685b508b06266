import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { ListObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { PluginError } from "@/plugin-kit";
import { S3_BUCKET, S3_CREDENTIALS, startS3 } from "@test/support/services";
import {
  blobStoreConformance,
  freshCid,
  freshDid,
  generated,
  pluginContext,
} from "@test/conformance/blob-store";
import { type S3Options, s3 } from "./index";

const endpoint = process.env.AURORA_TEST_S3_ENDPOINT;
const bucket = process.env.AURORA_TEST_S3_BUCKET;
if (!endpoint || !bucket) {
  throw new Error("AURORA_TEST_S3_ENDPOINT/AURORA_TEST_S3_BUCKET unset: run via scripts/with-services.ts");
}

const MiB = 1024 * 1024;
const base = { ...S3_CREDENTIALS, region: "us-east-1", forcePathStyle: true, checksums: "when_required" } as const;
/** One prefix per run: the shared bucket may hold other runs' objects. */
const prefix = `conformance-${Date.now()}-${randomBytes(4).toString("hex")}/`;
const clients: S3Client[] = [];
afterAll(() => {
  for (const client of clients) client.destroy();
});

/** Every object key under `keyPrefix`, with its size, straight from the bucket. */
async function objects(options: S3Options, keyPrefix = ""): Promise<{ key: string; size: number }[]> {
  const client = new S3Client({ ...options, credentials: S3_CREDENTIALS, requestChecksumCalculation: "WHEN_REQUIRED" });
  clients.push(client);
  const out: { key: string; size: number }[] = [];
  // ListObjects v1 with a marker: s3rver cannot mint v2 continuation tokens.
  for (let page = 0; page < 100; page++) {
    const res = await client.send(
      new ListObjectsCommand({ Bucket: options.bucket, Prefix: keyPrefix, Marker: out[out.length - 1]?.key }),
    );
    for (const o of res.Contents ?? []) out.push({ key: o.Key ?? "", size: o.Size ?? 0 });
    if (!res.IsTruncated) break;
  }
  return out;
}

const shared: S3Options = { ...base, bucket, endpoint, prefix };
blobStoreConformance("storage-s3", {
  make: () => s3(shared),
  inventory: async () => (await objects(shared, prefix)).map((o) => o.key),
});

describe("storage-s3", () => {
  test("describe() shows settings with the secret redacted", () => {
    expect(s3(shared).describe()).toMatchObject({
      bucket,
      endpoint,
      prefix,
      accessKeyId: "S3RVER",
      secretAccessKey: "[redacted]",
      maxAttempts: 3,
      retryMode: "standard",
      checksums: "when_required",
    });
  });

  test("init fails as unavailable when the bucket does not exist", async () => {
    const ctx = pluginContext();
    const store = s3({ ...shared, bucket: "no-such-bucket", maxAttempts: 1 });
    const err = await store.init(ctx).catch((e: unknown) => e);
    await store.close();
    ctx.cleanup();
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).unavailable).toBe(true);
  });

  test("an outage mid-upload fails fast as unavailable, leaves no object behind, and recovers", async () => {
    const service = await startS3();
    const ctx = pluginContext();
    const options: S3Options = { ...base, bucket: S3_BUCKET, endpoint: service.url, maxAttempts: 2, connectTimeoutMs: 1000 };
    const store = s3(options);
    let down = false;
    try {
      await store.init(ctx);
      const did = freshDid();
      const cid = freshCid();
      const { key } = await store.putTemp(generated(4096).source);
      await store.makePermanent(key, did, cid);

      // 7 MiB in, one 5 MiB part is on the server: kill it, then keep streaming.
      async function* dying() {
        for (let i = 0; i < 12; i++) {
          if (i === 7) {
            down = true;
            await service.kill();
          }
          yield randomBytes(MiB);
        }
      }
      let started = Date.now();
      const failed = await store.putTemp(dying()).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(PluginError);
      expect((failed as PluginError).unavailable).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);

      for (const call of [
        () => store.health(),
        () => store.stat(did, cid),
        () => store.get(did, cid),
        () => store.list(did),
        () => store.putTemp(generated(1000).source),
        () => store.quarantine(did, cid),
      ]) {
        started = Date.now();
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PluginError);
        expect((err as PluginError).unavailable).toBe(true);
        expect((err as PluginError).message).toContain("[storage-s3]");
        expect(Date.now() - started).toBeLessThan(5_000);
      }

      await service.start();
      down = false;
      // Only the blob stored before the outage is there: no temp, partial or empty object.
      expect(await objects(options)).toEqual([{ key: `blocks/${did}/${cid}`, size: 4096 }]);
      // The same plugin instance serves again, no restart.
      await store.health();
      expect(await store.stat(did, cid)).toEqual({ size: 4096, quarantined: false });
      const again = await store.putTemp(generated(6 * MiB).source);
      expect(again.size).toBe(6 * MiB);
    } finally {
      await store.close();
      // services.ts cannot stop a server it already killed: bring it back first.
      if (down) await service.start().catch(() => {});
      await service.stop();
      ctx.cleanup();
    }
  }, 60_000);
});
