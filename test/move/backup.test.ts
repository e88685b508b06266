/**
 * aurora backup / restore (issue 18 part 2): a server filled through the API
 * is backed up, a fresh config restored from the backup, and the restored
 * server serves what the source did. Also: a second backup only adds new
 * blobs, --keep, damaged backups refused before anything is written, and a
 * non-empty target refused (with --force: backed up first). A taken-down
 * blob is backed up and restored quarantined: not served, until a takedown
 * lifted on the restored server serves its bytes again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtpAgent } from "@atproto/api";
import { verifyRepoCar } from "@atproto/repo";
import { runCli } from "@/cli";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { s3 } from "@plugins/storage-s3";
import { type Backends, blobStatus, fill, type Filled, expectRestored, nodeOn, writeConfig, fillWithTakedown, type TakenDownBlob } from "@test/move/backup-fixture";
import { ADMIN_PASSWORD, basic } from "@test/e2e/accounts-support";
import { eventually } from "@test/support/eventually";
import { freshPostgres } from "@test/support/firehose";
import { startPlc, type TestPlc } from "@test/support/plc";

const SQLITE_DISK: Backends = { db: "sqlite()", blobs: "disk()", plugins: () => ({ db: sqlite({ path: "aurora.sqlite" }) }) };

let plc: TestPlc;
const root = mkdtempSync(join(tmpdir(), "aurora-backup-test-"));
const dir = (name: string) => join(root, name);

beforeAll(async () => {
  plc = await startPlc();
});
afterAll(async () => {
  await plc.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Run the CLI in process; resolves to the exit code and what it wrote to stderr. */
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

const snapshots = (backups: string) => readdirSync(backups).filter((n) => !n.startsWith(".") && n !== "blobs").sort();
const blobFiles = (backups: string) =>
  readdirSync(join(backups, "blobs")).filter((s) => s !== "tmp").flatMap((s) => readdirSync(join(backups, "blobs", s)));

describe("SQLite + disk", () => {
  const source = dir("sqlite-source");
  const backups = dir("sqlite-backups");
  let filled: Filled;
  let sourceConfig: string;
  /** The last account's avatar, taken down on the source (and no longer in `filled`). */
  let takenDown: TakenDownBlob;

  beforeAll(async () => {
    sourceConfig = writeConfig(source, SQLITE_DISK, plc.url);
    const node = await nodeOn(source, SQLITE_DISK, plc.url);
    try {
      ({ filled, takenDown } = await fillWithTakedown(node, { accounts: 3, posts: 150, tag: "sq" }));
    } finally {
      await node.stop();
    }
  });

  test("backup, then restore into a fresh config: the restored server serves everything", async () => {
    const made = await cli("backup", "--config", sourceConfig, "--out", backups);
    expect(made.stderr.split("\n").filter((l) => l.startsWith("aurora:"))).toEqual([]);
    expect(made.code).toBe(0);
    const [name] = snapshots(backups);
    const manifest = JSON.parse(readFileSync(join(backups, name!, "manifest.json"), "utf8"));
    expect(manifest.tables.account).toBe(3);
    expect(manifest.repos.map((r: { did: string; root: string }) => [r.did, r.root]).sort()).toEqual(
      filled.accounts.map((a) => [a.did, a.root.cid]).sort(),
    );
    // 3 avatars (one taken down: stored all the same) and one picture all accounts share: four files.
    expect(manifest.blobs.count).toBe(4);
    expect(manifest.blobs.missing).toEqual([]);
    expect(blobFiles(backups).length).toBe(4);

    const target = dir("sqlite-target");
    const targetConfig = writeConfig(target, SQLITE_DISK, plc.url);
    const restored = await cli("restore", "--from", backups, "--config", targetConfig);
    expect(restored.stderr.split("\n").filter((l) => l.startsWith("aurora:"))).toEqual([]);
    expect(restored.code).toBe(0);
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
  });

  test.each([
    ["a flipped byte in the database file", (copy: string, name: string) => flipByte(join(copy, name, "aurora.sqlite"), 5000), "aurora.sqlite has changed since the backup"],
    ["a deleted blob", (copy: string) => unlinkSync(join(copy, "blobs", ...firstBlob(copy))), "is missing from"],
    ["an edited manifest", (copy: string, name: string) => editManifest(join(copy, name), (m) => ({ ...m, tables: { ...m.tables, account: 4 } }), false), "was edited after the backup wrote it"],
    [
      "a manifest edited with its checksum recomputed",
      (copy: string, name: string) => editManifest(join(copy, name), (m) => ({ ...m, repos: m.repos.slice(1) }), true),
      "its database disagrees with the manifest",
    ],
  ] as const)("%s is refused before anything is written", async (_what, damage, message) => {
    const copy = dir(`damaged-${Math.random().toString(36).slice(2)}`);
    cpSync(backups, copy, { recursive: true });
    damage(copy, snapshots(copy)[0]!);
    const target = dir(`target-${Math.random().toString(36).slice(2)}`);
    const result = await cli("restore", "--from", copy, "--config", writeConfig(target, SQLITE_DISK, plc.url));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot be trusted");
    expect(result.stderr).toContain(message);
    expect(tablesIn(join(target, "aurora.sqlite"))).toEqual([]);
  });

  test("a blob damaged in place (same size) fails the restore", async () => {
    const copy = dir("damaged-blob-bytes");
    cpSync(backups, copy, { recursive: true });
    flipByte(join(copy, "blobs", ...firstBlob(copy)), 100);
    const result = await cli("restore", "--from", copy, "--config", writeConfig(dir("target-blob-bytes"), SQLITE_DISK, plc.url));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no longer hash to its CID");
  });

  test("a non-empty target is refused; with --force it is backed up first, then replaced", async () => {
    const target = dir("sqlite-target");
    const targetConfig = writeConfig(target, SQLITE_DISK, plc.url);
    const refused = await cli("restore", "--from", backups, "--config", targetConfig);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is not empty");
    expect(snapshots(backups).filter((n) => n.startsWith("pre-restore-"))).toEqual([]);

    const forced = await cli("restore", "--from", backups, "--config", targetConfig, "--force");
    expect(forced.stderr.split("\n").filter((l) => l.startsWith("aurora:"))).toEqual([]);
    expect(forced.code).toBe(0);
    const [pre] = snapshots(backups).filter((n) => n.startsWith("pre-restore-"));
    expect(pre).toBeDefined();
    // The target had one post more (expectRestored wrote it): the pre-restore backup holds it.
    const manifest = JSON.parse(readFileSync(join(backups, pre!, "manifest.json"), "utf8"));
    const first = manifest.repos.find((r: { did: string }) => r.did === filled.accounts[0]!.did);
    expect(first.records).toBe(filled.accounts[0]!.records + 1);
    const node = await nodeOn(target, SQLITE_DISK, plc.url);
    try {
      await expectRestored(node, filled);
    } finally {
      await node.stop();
    }
  });

  test("a second backup stores only the new blobs; --keep deletes old snapshots and the blobs only they named", async () => {
    const before = blobFiles(backups).length;
    const node = await nodeOn(source, SQLITE_DISK, plc.url);
    let doomed: string;
    try {
      const extra = await fill(node, { accounts: 1, posts: 3, tag: "extra" });
      doomed = extra.accounts[0]!.did;
    } finally {
      await node.stop();
    }
    const second = await cli("backup", "--config", sourceConfig, "--out", backups);
    expect(second.code).toBe(0);
    // One new avatar; the shared picture was already there.
    expect(second.stdout).toContain("(1 new)");
    expect(blobFiles(backups).length).toBe(before + 1);

    const again = await nodeOn(source, SQLITE_DISK, plc.url);
    try {
      const res = await again.call("com.atproto.admin.deleteAccount", { body: { did: doomed }, auth: basic("admin", ADMIN_PASSWORD) });
      expect(res.status).toBe(200);
    } finally {
      await again.stop();
    }
    const regular = () => snapshots(backups).filter((n) => !n.startsWith("pre-restore-"));
    expect(regular().length).toBe(2);
    const third = await cli("backup", "--config", sourceConfig, "--out", backups, "--keep", "1");
    expect(third.code).toBe(0);
    expect(third.stdout).toContain("(0 new)");
    expect(regular().length).toBe(1);
    // The deleted account's avatar was named only by the deleted snapshot (and not by the pre-restore one).
    expect(blobFiles(backups).length).toBe(before);
    expect(snapshots(backups).filter((n) => n.startsWith("pre-restore-")).length).toBe(1);
  });
});

/** Take blob (did, cid) down on `node` (`applied`) or lift its takedown, as a moderator (admin Basic). */
/** Flip one byte of a file in place, keeping its size. */
function flipByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  const i = Math.min(at, bytes.length - 1);
  bytes[i] = bytes[i]! ^ 0xff;
  writeFileSync(path, bytes);
}

/** The shard and file name of one stored blob. */
function firstBlob(backups: string): [string, string] {
  const shard = readdirSync(join(backups, "blobs")).find((s) => s !== "tmp")!;
  return [shard, readdirSync(join(backups, "blobs", shard))[0]!];
}

/** Rewrite a snapshot's manifest; with `rehash`, its checksum too (as a careless tool would). */
function editManifest(snapshot: string, edit: (m: Record<string, any>) => Record<string, any>, rehash: boolean): void {
  const path = join(snapshot, "manifest.json");
  const { checksum, ...rest } = JSON.parse(readFileSync(path, "utf8"));
  const edited = edit(rest);
  const sum = rehash ? createHash("sha256").update(JSON.stringify(edited)).digest("hex") : checksum;
  writeFileSync(path, JSON.stringify({ ...edited, checksum: sum }, null, 2));
}

/** The tables of a SQLite file (none when the file is missing or empty). */
function tablesIn(path: string): string[] {
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true });
  try {
    return db.query<{ name: string }, []>("select name from sqlite_master where type = 'table'").all().map((r) => r.name);
  } finally {
    db.close();
  }
}

/** PostgreSQL + S3 (s3rver), each side a database and a key prefix of its own. */
async function postgresS3(tag: string): Promise<Backends & { drop(): Promise<void> }> {
  const pg = await freshPostgres();
  const endpoint = process.env.AURORA_TEST_S3_ENDPOINT;
  const bucket = process.env.AURORA_TEST_S3_BUCKET;
  if (!endpoint || !bucket) throw new Error("AURORA_TEST_S3_ENDPOINT / AURORA_TEST_S3_BUCKET unset: run via scripts/with-services.ts");
  const options = { bucket, endpoint, prefix: `backup-${tag}-${Date.now().toString(36)}/`, accessKeyId: "S3RVER", secretAccessKey: "S3RVER", checksums: "when_required" as const };
  return {
    db: `postgres(${JSON.stringify({ url: pg.url, maxConnections: 5 })})`,
    blobs: `s3(${JSON.stringify(options)})`,
    plugins: () => ({ db: postgres({ url: pg.url, maxConnections: 5 }), blobs: s3(options) }),
    drop: pg.drop,
  };
}

/** The event seqs after `after` in a backup's database file (what a restored firehose must replay). */
function backupSeqs(snapshot: string, after: number): number[] {
  const db = new Database(join(snapshot, "aurora.sqlite"), { readonly: true });
  try {
    return db.query<{ seq: number }, [number]>("select seq from repo_seq where seq > ? order by seq").all(after).map((r) => r.seq);
  } finally {
    db.close();
  }
}

describe("PostgreSQL + S3 as the source, backed up while it serves writes", () => {
  const backups = dir("pg-backups");
  let source: Backends & { drop(): Promise<void> };
  let target: Backends & { drop(): Promise<void> };

  beforeAll(async () => {
    source = await postgresS3("source");
    target = await postgresS3("target");
  });
  afterAll(async () => {
    await source.drop();
    await target.drop();
  });

  test("the backup is one consistent snapshot; restored into fresh PostgreSQL + S3 it serves everything", async () => {
    const sourceDir = dir("pg-source");
    const sourceConfig = writeConfig(sourceDir, source, plc.url);
    const node = await nodeOn(sourceDir, source, plc.url);
    let filled: Filled;
    let busy: Filled;
    let made: Awaited<ReturnType<typeof cli>>;
    let finalBusyRecords: number;
    try {
      filled = await fill(node, { accounts: 2, posts: 120, tag: "pg" });
      busy = await fill(node, { accounts: 1, posts: 1, tag: "busy" });
      const writer = node.agent();
      await writer.login({ identifier: busy.accounts[0]!.handle, password: busy.accounts[0]!.password });
      // Writes go on while the backup runs: it must capture one state, whatever it is.
      let writing = true;
      let written = 0;
      const writes = (async () => {
        for (let i = 0; writing && i < 400; i++, written++) {
          await node.call("com.atproto.repo.createRecord", {
            auth: `Bearer ${writer.session!.accessJwt}`,
            body: { repo: busy.accounts[0]!.did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: `busy ${i}`, createdAt: new Date().toISOString() } },
          });
        }
      })();
      await eventually(() => written >= 5, { timeoutMs: 15_000, what: "writes under way" });
      made = await cli("backup", "--config", sourceConfig, "--out", backups);
      writing = false;
      await writes;
      finalBusyRecords = (await node.ctx.db.db().selectFrom("record").select("uri").where("did", "=", busy.accounts[0]!.did).execute()).length;
    } finally {
      await node.stop();
    }
    expect(made.stderr.split("\n").filter((l) => l.startsWith("aurora:"))).toEqual([]);
    expect(made.code).toBe(0);
    const [name] = snapshots(backups);
    const manifest = JSON.parse(readFileSync(join(backups, name!, "manifest.json"), "utf8"));
    expect(manifest.source).toEqual({ db: "db-postgres", blobs: "storage-s3" });

    const targetDir = dir("pg-target");
    const restored = await cli("restore", "--from", join(backups, name!), "--config", writeConfig(targetDir, target, plc.url));
    expect(restored.stderr.split("\n").filter((l) => l.startsWith("aurora:"))).toEqual([]);
    expect(restored.code).toBe(0);
    const laterSeqs = backupSeqs(join(backups, name!), filled.midSeq);
    const restoredNode = await nodeOn(targetDir, target, plc.url);
    try {
      await expectRestored(restoredNode, { ...filled, laterSeqs, lastSeq: laterSeqs.at(-1)! });
      // The busy repository is whole at the snapshot's commit: its root and record count agree with the manifest.
      const busyRepo = manifest.repos.find((r: { did: string }) => r.did === busy.accounts[0]!.did);
      const car = (await new AtpAgent({ service: restoredNode.url }).com.atproto.sync.getRepo({ did: busyRepo.did })).data;
      const verified = await verifyRepoCar(car, busyRepo.did);
      expect([verified.commit.cid.toString(), verified.creates.length]).toEqual([busyRepo.root, busyRepo.records]);
      // Writes landed both before the snapshot and while the backup ran.
      expect(busyRepo.records).toBeGreaterThan(busy.accounts[0]!.records);
      expect(busyRepo.records).toBeLessThan(finalBusyRecords!);
    } finally {
      await restoredNode.stop();
    }
  });
});
