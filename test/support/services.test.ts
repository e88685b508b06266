import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { eventually } from "@test/support/eventually";
import { S3_BUCKET, S3_CREDENTIALS, startS3 } from "@test/support/services";

const client = (url: string) => new S3Client({ endpoint: url, region: "us-east-1", forcePathStyle: true, credentials: S3_CREDENTIALS });

describe("startS3", () => {
  test("an object whose metadata write was cut off is gone after a restart, and listing works", async () => {
    const s3 = await startS3();
    const s3c = client(s3.url);
    try {
      for (const key of ["tmp/a", "tmp/b"]) await s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: key, Body: "x" }));
      await s3.kill();
      const meta = findFile(s3.dir, "b._S3rver_metadata.json");
      writeFileSync(meta, '{\n  "content-type": "appl'); // what a SIGKILL in the middle of writeFile leaves
      await s3.start();
      const listed = await s3c.send(new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: "tmp/" }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(["tmp/a"]);
    } finally {
      s3c.destroy();
      await s3.stop();
    }
  }, 30_000);

  test("a DELETE that empties a prefix racing a PUT under it does not bring s3rver down", async () => {
    const s3 = await startS3();
    const s3c = client(s3.url);
    try {
      for (let i = 0; i < 150; i++) {
        await s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: `tmp/${i}`, Body: "x" }));
        await Promise.all([
          s3c.send(new DeleteObjectCommand({ Bucket: S3_BUCKET, Key: `tmp/${i}` })),
          s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: `tmp/${i}.next`, Body: "y" })),
        ]);
        await s3c.send(new DeleteObjectCommand({ Bucket: S3_BUCKET, Key: `tmp/${i}.next` }));
      }
      expect(s3.unaskedExits).toBe(0);
      const listed = await s3c.send(new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: "tmp/" }));
      expect(listed.KeyCount ?? 0).toBe(0);
    } finally {
      s3c.destroy();
      await s3.stop();
    }
  }, 60_000);

  test("with respawn, an unasked exit is followed by a restart on the same port and data", async () => {
    const s3 = await startS3({ respawn: true });
    const s3c = client(s3.url);
    try {
      await s3c.send(new PutObjectCommand({ Bucket: S3_BUCKET, Key: "k", Body: "x" }));
      process.kill(s3.pid!, "SIGKILL");
      const killedAt = Date.now();
      await eventually(async () => s3.unaskedExits === 1 && Number.isFinite(s3.outages[0]?.to) && (await fetch(s3.url)).status > 0, { timeoutMs: 15_000, what: "s3rver back" });
      const listed = await s3c.send(new ListObjectsV2Command({ Bucket: S3_BUCKET }));
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(["k"]);
      // The outage runs from the exit to the restart answering.
      const [outage] = s3.outages;
      expect(outage!.from).toBeGreaterThanOrEqual(killedAt);
      expect(outage!.to).toBeGreaterThan(outage!.from);
      // A kill on purpose is neither restarted nor an outage.
      await s3.kill();
      await Bun.sleep(1000);
      expect(await fetch(s3.url).then(() => "answered", () => "refused")).toBe("refused");
      expect(s3.unaskedExits).toBe(1);
      expect(s3.outages).toHaveLength(1);
    } finally {
      s3c.destroy();
      await s3.stop();
    }
  }, 30_000);
});

function findFile(dir: string, name: string): string {
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) if (e.name === name) return join(e.parentPath, e.name);
  throw new Error(`${name} not in ${dir}`);
}
