/**
 * aurora backup --out s3://bucket/prefix and restore --from s3://...: a
 * SQLite + disk server backed up into the test s3rver, restored into a
 * fresh config with the checks backup.test.ts makes (log-ins, roots, blobs,
 * firehose, a taken-down blob restored quarantined) and again with --force (the target backed up into the bucket
 * first), a second backup that uploads only new blobs, --keep, an
 * unfinished snapshot (no manifest) removed by the next writer, a lock held
 * by another host refused, a blob object missing or damaged in the bucket
 * refused, and an overwritten database object refused.
 *
 * Every command runs with --blob-concurrency 1 and the location itself sends
 * one object at a time: s3rver exits when a PUT races a delete that empties
 * one of its directories.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { runCli } from "@/cli";
import { sqlite } from "@plugins/db-sqlite";
import { type Backends, blobStatus, expectRestored, fill, type Filled, nodeOn, writeConfig, fillWithTakedown, type TakenDownBlob } from "@test/move/backup-fixture";
import { ADMIN_PASSWORD, basic } from "@test/e2e/accounts-support";
import { S3_CREDENTIALS } from "@test/support/services";
import { startPlc, type TestPlc } from "@test/support/plc";

const SQLITE_DISK: Backends = { db: "sqlite()", blobs: "disk()", plugins: () => ({ db: sqlite({ path: "aurora.sqlite" }) }) };
const ONE_AT_A_TIME = ["--blob-concurrency", "1"];

const endpoint = process.env.AURORA_TEST_S3_ENDPOINT;
const bucket = process.env.AURORA_TEST_S3_BUCKET;
if (!endpoint || !bucket) throw new Error("AURORA_TEST_S3_ENDPOINT / AURORA_TEST_S3_BUCKET unset: run via scripts/with-services.ts");
const prefix = `backup-s3-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
const url = `s3://${bucket}/${prefix}`;
const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: S3_CREDENTIALS, requestChecksumCalculation: "WHEN_REQUIRED" });

/** The location reads these (the storage-s3 plugin's names would do as well). */
const ENV = {
  AURORA_BACKUP_S3_ENDPOINT: endpoint,
  AURORA_BACKUP_S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
  AURORA_BACKUP_S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
  AURORA_BACKUP_S3_CHECKSUMS: "when_required",
};
const saved = Object.fromEntries(Object.keys(ENV).map((k) => [k, process.env[k]]));

let plc: TestPlc;
const root = mkdtempSync(join(tmpdir(), "aurora-backup-s3-test-"));
const dir = (name: string) => join(root, name);

beforeAll(async () => {
  Object.assign(process.env, ENV);
  plc = await startPlc();
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await plc.stop();
  client.destroy();
  rmSync(root, { recursive: true, force: true });
});

/** Run the CLI in process; resolves to the exit code and what it wrote. */
async function cli(...argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const [out, err] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  let stdout = "";
  let stderr = "";
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await runCli(argv), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
const problems = (r: { stderr: string }) => r.stderr.split("\n").filter((l) => l.startsWith("aurora:"));

/** Every key under the test prefix, relative to it. */
async function keys(): Promise<string[]> {
  const out: string[] = [];
  for (let page = 0; page < 100; page++) {
    const res = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: `${prefix}/`, Marker: out.length ? `${prefix}/${out.at(-1)}` : undefined }));
    for (const o of res.Contents ?? []) out.push(o.Key!.slice(prefix.length + 1));
    if (!res.IsTruncated) break;
  }
  return out.sort();
}
const blobKeys = async () => (await keys()).filter((k) => k.startsWith("blobs/"));
const snapshotNames = async () => [...new Set((await keys()).filter((k) => k.startsWith("snapshots/")).map((k) => k.split("/")[1]!))].sort();
const put = (key: string, body: string | Uint8Array) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: body }));
const getText = async (key: string) => (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }))).Body!.transformToString();

/** Take blob (did, cid) down on `node` (`applied`) or lift its takedown, as a moderator (admin Basic). */
/** The tables of a SQLite file (none when the file is missing). */
function tablesIn(path: string): string[] {
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true });
  try {
    return db.query<{ name: string }, []>("select name from sqlite_master where type = 'table'").all().map((r) => r.name);
  } finally {
    db.close();
  }
}

describe("backup to s3://", () => {
  const source = dir("source");
  let filled: Filled;
  let sourceConfig: string;
  /** The last account's avatar, taken down on the source (and no longer in `filled`). */
  let takenDown: TakenDownBlob;

  beforeAll(async () => {
    sourceConfig = writeConfig(source, SQLITE_DISK, plc.url);
    const node = await nodeOn(source, SQLITE_DISK, plc.url);
    try {
      ({ filled, takenDown } = await fillWithTakedown(node, { accounts: 3, posts: 60, tag: "s3b" }));
    } finally {
      await node.stop();
    }
  });

  test("backup into the bucket, then restore into a fresh config: the restored server serves everything; again with --force, the target is backed up into the bucket first", async () => {
    const made = await cli("backup", "--config", sourceConfig, "--out", url, ...ONE_AT_A_TIME);
    expect(problems(made)).toEqual([]);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain("(4 new)");
    const [name] = await snapshotNames();
    expect((await keys()).filter((k) => k.startsWith("snapshots/"))).toEqual(
      ["aurora.sqlite", "blobs.txt", "manifest.json"].map((f) => `snapshots/${name}/${f}`),
    );
    const manifest = JSON.parse(await getText(`snapshots/${name}/manifest.json`));
    expect(manifest.tables.account).toBe(3);
    expect(manifest.repos.map((r: { did: string; root: string }) => [r.did, r.root]).sort()).toEqual(filled.accounts.map((a) => [a.did, a.root.cid]).sort());
    // 3 avatars (one taken down: stored all the same) and the picture all accounts share, each once under its CID.
    expect(manifest.blobs.count).toBe(4);
    expect(manifest.blobs.missing).toEqual([]);
    expect((await blobKeys()).map((k) => k.slice("blobs/".length)).sort()).toEqual(
      [...new Set([takenDown.cid, ...filled.accounts.flatMap((a) => [...a.blobs.keys()])])].sort(),
    );
    expect(await keys()).not.toContain("lock");

    const target = dir("target");
    const targetConfig = writeConfig(target, SQLITE_DISK, plc.url);
    const restored = await cli("restore", "--from", url, "--config", targetConfig, ...ONE_AT_A_TIME);
    expect(problems(restored)).toEqual([]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`restored ${url}/snapshots/${name} `);
    expect(restored.stdout).toContain("verified");
    const node = await nodeOn(target, SQLITE_DISK, plc.url);
    try {
      await expectRestored(node, filled);
      // Restored quarantined: refused, then served byte for byte once the takedown is lifted here.
      const blobUrl = `${node.url}/xrpc/com.atproto.sync.getBlob?did=${takenDown.did}&cid=${takenDown.cid}`;
      expect((await fetch(blobUrl)).status).toBe(400);
      expect((await blobStatus(node, takenDown, false)).status).toBe(200);
      const served = await fetch(blobUrl);
      expect(served.status).toBe(200);
      expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(takenDown.bytes))).toBe(true);
    } finally {
      await node.stop();
    }

    // Again over the now non-empty target: --force backs it up into the bucket first.
    const forced = await cli("restore", "--from", url, "--config", targetConfig, "--force", ...ONE_AT_A_TIME);
    expect(problems(forced)).toEqual([]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`pre-restore backup of the target: ${url}/snapshots/pre-restore-`);
    const names = await snapshotNames();
    expect(names).toHaveLength(2);
    expect(names[1]).toStartWith("pre-restore-");
    // It holds the post expectRestored wrote, and no blob the bucket lacked.
    const pre = JSON.parse(await getText(`snapshots/${names[1]}/manifest.json`));
    expect(pre.repos.find((r: { did: string }) => r.did === filled.accounts[0]!.did).records).toBe(filled.accounts[0]!.records + 1);
    expect((await blobKeys()).length).toBe(4);
  });

  test("a second backup uploads only the new blob and removes an unfinished snapshot; --keep deletes old snapshots and the blobs only they named", async () => {
    const before = (await blobKeys()).length;
    const node = await nodeOn(source, SQLITE_DISK, plc.url);
    let doomed: string;
    try {
      doomed = (await fill(node, { accounts: 1, posts: 3, tag: "s3extra" })).accounts[0]!.did;
    } finally {
      await node.stop();
    }
    // A backup that died after its database upload: no manifest, newer than any real snapshot.
    await put("snapshots/2099-01-01T00-00-00Z/aurora.sqlite", "half");
    const second = await cli("backup", "--config", sourceConfig, "--out", url, ...ONE_AT_A_TIME);
    expect(problems(second)).toEqual([]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("(1 new)");
    expect((await blobKeys()).length).toBe(before + 1);
    expect(await snapshotNames()).toHaveLength(3);
    expect(await snapshotNames()).not.toContain("2099-01-01T00-00-00Z");

    const again = await nodeOn(source, SQLITE_DISK, plc.url);
    try {
      const res = await again.call("com.atproto.admin.deleteAccount", { body: { did: doomed }, auth: basic("admin", ADMIN_PASSWORD) });
      expect(res.status).toBe(200);
    } finally {
      await again.stop();
    }
    const third = await cli("backup", "--config", sourceConfig, "--out", url, "--keep", "1", ...ONE_AT_A_TIME);
    expect(problems(third)).toEqual([]);
    expect(third.code).toBe(0);
    expect(third.stdout).toContain("(0 new)");
    expect(third.stdout).toContain("deleted 2 snapshots");
    // The newest backup, and the pre-restore snapshot retention never counts.
    expect((await snapshotNames()).map((n) => n.startsWith("pre-restore-"))).toEqual([false, true]);
    // The deleted account's avatar was named only by the deleted snapshots.
    expect((await blobKeys()).length).toBe(before);
  });

  test("a lock held by a backup on another host is refused, and left alone", async () => {
    await put("lock", JSON.stringify({ host: "elsewhere.example", pid: 1, since: "2026-01-01T00:00:00.000Z", token: "x" }));
    try {
      const refused = await cli("backup", "--config", sourceConfig, "--out", url, ...ONE_AT_A_TIME);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("is in use by process 1 on elsewhere.example");
      expect(await keys()).toContain("lock");
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/lock` }));
    }
  });

  test("a blob object missing from the bucket is refused before anything is written", async () => {
    const [key] = await blobKeys();
    const bytes = new Uint8Array(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }))).Body!.transformToByteArray());
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
    try {
      const target = dir("target-missing-blob");
      const result = await cli("restore", "--from", url, "--config", writeConfig(target, SQLITE_DISK, plc.url), ...ONE_AT_A_TIME);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("cannot be trusted");
      expect(result.stderr).toContain(`${key!.slice("blobs/".length)} is missing from ${url}`);
      expect(tablesIn(join(target, "aurora.sqlite"))).toEqual([]);
    } finally {
      await put(key!, bytes);
    }
  });

  test("a blob object damaged in the bucket (same size) fails the restore", async () => {
    const [key] = await blobKeys();
    const bytes = new Uint8Array(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }))).Body!.transformToByteArray());
    const damaged = Uint8Array.from(bytes);
    damaged[100] = damaged[100]! ^ 0xff;
    await put(key!, damaged);
    try {
      const result = await cli("restore", "--from", url, "--config", writeConfig(dir("target-damaged-blob"), SQLITE_DISK, plc.url), ...ONE_AT_A_TIME);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("no longer hash to its CID");
      expect(await keys()).not.toContain("lock");
    } finally {
      await put(key!, bytes);
    }
  });

  test("an overwritten database object is refused before anything is written", async () => {
    const [name] = await snapshotNames();
    await put(`snapshots/${name}/aurora.sqlite`, randomBytes(8192));
    const target = dir("target-corrupt");
    const result = await cli("restore", "--from", `${url}/snapshots/${name}`, "--config", writeConfig(target, SQLITE_DISK, plc.url), ...ONE_AT_A_TIME);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot be trusted");
    expect(result.stderr).toContain(`${url}/snapshots/${name}`);
    expect(result.stderr).toContain("aurora.sqlite has changed since the backup");
    expect(tablesIn(join(target, "aurora.sqlite"))).toEqual([]);
    expect(await keys()).not.toContain("lock");
  });
});
