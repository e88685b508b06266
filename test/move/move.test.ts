/**
 * `aurora move` end to end: a SQLite + disk server filled through the API
 * (accounts, a few thousand records by applyWrites, blobs, one taken down, an
 * unfinished upload, an app password, preferences, an invite, sessions,
 * firehose events) is moved by the CLI to PostgreSQL + S3 and back to a fresh
 * SQLite + disk, each copy served and checked (log-ins, verified CARs with the
 * same roots, blob bytes, a firehose cursor from before the move); the
 * taken-down blob travels quarantined and, its takedown lifted on the last
 * copy, is served with its original bytes. A move
 * killed with SIGKILL mid-way resumes to the same result; a target that holds
 * data is refused without --resume.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CID } from "multiformats/cid";
import { disk } from "@plugins/storage-disk";
import { postgres } from "@plugins/db-postgres";
import { s3 } from "@plugins/storage-s3";
import { sqlite } from "@plugins/db-sqlite";
import { type RunningServer, listen } from "@/http/server";
import type { UserConfig } from "@/config/schema";
import { type TestContext, testContext } from "@test/support/context";
import { freshPostgres } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { BUN, ROOT, runCommand } from "@test/support/process";
import { S3_CREDENTIALS, freePort } from "@test/support/services";
import { ADMIN_AUTH, type Facts, SQLITE_DISK, checkServed, fill, postgresS3Fields, writeConfig } from "./fixture";

const RECORDS = [2000, 700, 300];
const MOVE_TIMEOUT = 120_000;
/**
 * Moves INTO s3rver stream one blob at a time: s3rver removes an emptied
 * directory while a concurrent PUT writes into it, and exits (ENOENT). Moves
 * out of it keep the default (4 at once).
 */
const INTO_S3RVER = ["--blob-concurrency", "1"];

describe("aurora move", () => {
  let plc: TestPlc;
  let port: number;
  let service: string;
  let work: string;
  let facts: Facts;
  /** The source's contents right after the fill: every move must leave them as they were. */
  let sourceDump: string;
  const dropLater: (() => Promise<void>)[] = [];

  const userConfig = (dataDir: string): UserConfig => ({
    dataDir,
    identity: { plcUrl: plc.url },
    service: { inviteRequired: false, port, publicUrl: service },
    rateLimit: { enabled: false },
    log: { level: "warn" },
  });

  /** Serve a moved copy on the service's port for `fn`, then stop. */
  async function serving<T>(dataDir: string, backends: Pick<UserConfig, "db" | "blobs">, fn: () => Promise<T>): Promise<T> {
    const ctx: TestContext = await testContext({ ...userConfig(dataDir), ...backends });
    const server: RunningServer = listen(ctx, port);
    try {
      return await fn();
    } finally {
      await server.shutdown();
      await ctx.close();
    }
  }

  async function didKey(did: string): Promise<string> {
    const data = (await (await fetch(`${plc.url}/${did}/data`)).json()) as { verificationMethods: { atproto: string } };
    return data.verificationMethods.atproto;
  }

  const aurora = (...args: string[]) => runCommand([BUN, "src/main.ts", ...args], { cwd: ROOT, timeoutMs: MOVE_TIMEOUT });

  /** A fresh PostgreSQL database and S3 prefix: their config fields and the plugins to serve them. */
  async function freshPostgresS3() {
    const pg = await freshPostgres();
    dropLater.push(pg.drop);
    const prefix = `move-${crypto.randomUUID().slice(0, 8)}/`;
    const s3Options = {
      bucket: process.env.AURORA_TEST_S3_BUCKET!,
      endpoint: process.env.AURORA_TEST_S3_ENDPOINT!,
      ...S3_CREDENTIALS,
      region: "us-east-1",
      forcePathStyle: true,
      checksums: "when_required" as const,
      prefix,
    };
    return {
      fields: postgresS3Fields(pg.url, prefix),
      plugins: () => ({ db: postgres({ url: pg.url }), blobs: s3(s3Options) }),
    };
  }

  beforeAll(async () => {
    plc = await startPlc();
    port = await freePort();
    service = `http://localhost:${port}`;
    work = mkdtempSync(join(tmpdir(), "aurora-move-"));
    const sourceDir = join(work, "source");
    const ctx = await testContext({ ...userConfig(sourceDir), db: sqlite(), blobs: disk() });
    const server = listen(ctx, port);
    try {
      facts = await fill(service, port, RECORDS);
    } finally {
      // The operator stops the server before moving; its files stay (the data dir is ours).
      await server.shutdown();
      await ctx.close();
    }
    writeConfig(work, "source.ts", sourceDir, SQLITE_DISK);
    sourceDump = dump(join(sourceDir, "aurora.sqlite"));
  }, MOVE_TIMEOUT);

  afterAll(async () => {
    for (const drop of dropLater) await drop().catch(() => {});
    await plc?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("SQLite + disk → PostgreSQL + S3 → SQLite + disk, each copy served as the original", async () => {
    const target = await freshPostgresS3();
    const toPg = writeConfig(work, "pg.ts", join(work, "pg-data"), target.fields);
    const forward = await aurora("move", "--from", join(work, "source.ts"), "--to", toPg, "--verify", ...INTO_S3RVER);
    expect({ code: forward.code, stderr: forward.stderr }).toEqual({ code: 0, stderr: "" });
    expect(forward.stdout).toContain("[move] repo_block: done");
    expect(forward.stdout).toContain("[move] blob bytes: done");
    // The taken-down blob's bytes travel too (into the target's quarantine): no note about them.
    expect(forward.stdout).not.toContain("taken-down");
    expect(forward.stdout).toMatch(/note: 1 unfinished upload\(s\) not moved/);
    expect(forward.stdout).toMatch(new RegExp(`verified: 3 repos, ${RECORDS.reduce((a, b) => a + b) + 5} records, 5 blobs, ${facts.seqs.length} events`));

    const afterPg = await serving(join(work, "pg-data"), target.plugins(), () => checkServed(service, port, facts, didKey, { refresh: true }));

    // A target that holds data is refused without --resume, and nothing is written to it.
    const again = await aurora("move", "--from", join(work, "source.ts"), "--to", toPg);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty \(3 account\(s\), \d+ event\(s\)\).*--resume/);

    const backDir = join(work, "back");
    const toBack = writeConfig(work, "back.ts", backDir, SQLITE_DISK);
    const back = await aurora("move", "--from", toPg, "--to", toBack, "--verify");
    expect({ code: back.code, stderr: back.stderr }).toEqual({ code: 0, stderr: "" });
    await serving(backDir, { db: sqlite(), blobs: disk() }, async () => {
      await checkServed(service, port, afterPg, didKey, { refresh: false });
      // Quarantined through S3 and back; lifting the takedown on the last copy serves the original bytes.
      await expectServedAfterUntakedown(service, facts.takenDown);
    });
  }, MOVE_TIMEOUT * 3);

  test("killed mid-move with SIGKILL, refused without --resume, resumed to the same result", async () => {
    const target = await freshPostgresS3();
    const toPg = writeConfig(work, "pg-killed.ts", join(work, "pg-killed-data"), target.fields);
    const child = Bun.spawn([BUN, "src/main.ts", "move", "--from", join(work, "source.ts"), "--to", toPg, "--batch-rows", "100", ...INTO_S3RVER], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    let seen = "";
    const decoder = new TextDecoder();
    const reader = child.stdout.getReader();
    const deadline = Date.now() + MOVE_TIMEOUT;
    // Kill as soon as the repository blocks are in and the records are starting.
    while (Date.now() < deadline && !seen.includes("[move] record: start")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    child.kill("SIGKILL");
    expect(await child.exited).not.toBe(0);
    expect(seen).toContain("[move] repo_block: done");
    expect(seen).not.toContain("move complete");

    const refused = await aurora("move", "--from", join(work, "source.ts"), "--to", toPg);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("holds an unfinished move: pass --resume");

    const resumed = await aurora("move", "--from", join(work, "source.ts"), "--to", toPg, "--resume", "--verify", ...INTO_S3RVER);
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: "" });
    expect(resumed.stdout).toContain("(resuming)");
    expect(resumed.stdout).toMatch(/verified: 3 repos/);
    // The resumed copy is served like an uninterrupted one (no duplicate seq, the next one follows).
    await serving(join(work, "pg-killed-data"), target.plugins(), () => checkServed(service, port, facts, didKey, { refresh: false }));
  }, MOVE_TIMEOUT * 3);

  test("SIGINT stops after the current page with exit 130; --resume finishes the move", async () => {
    const target = await freshPostgresS3();
    const toPg = writeConfig(work, "pg-interrupted.ts", join(work, "pg-interrupted-data"), target.fields);
    const child = Bun.spawn([BUN, "src/main.ts", "move", "--from", join(work, "source.ts"), "--to", toPg, "--batch-rows", "50", ...INTO_S3RVER], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const stdout = child.stdout.getReader();
    let seen = "";
    const deadline = Date.now() + MOVE_TIMEOUT;
    while (Date.now() < deadline && !seen.includes("[move] repo_block: start")) {
      const { value, done } = await stdout.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    child.kill("SIGINT");
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(130);
    expect(stderr).toContain("run the same command with --resume");

    const resumed = await aurora("move", "--from", join(work, "source.ts"), "--to", toPg, "--resume", "--verify", ...INTO_S3RVER);
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: "" });
    expect(resumed.stdout).toMatch(/verified: 3 repos/);
  }, MOVE_TIMEOUT * 2);

  test("one kind only: the blobs to S3, the database left where it is and unwritten", async () => {
    const prefix = `move-blobs-${crypto.randomUUID().slice(0, 8)}/`;
    const fields = postgresS3Fields("postgresql://unused", prefix).replace(/^db: postgres\(\{[^}]*\}\), /, `db: sqlite({ path: "aurora.sqlite" }), `);
    const toS3 = writeConfig(work, "blobs-only.ts", join(work, "source"), fields);
    const moved = await aurora("move", "--from", join(work, "source.ts"), "--to", toS3, "--verify", ...INTO_S3RVER);
    expect({ code: moved.code, stderr: moved.stderr }).toEqual({ code: 0, stderr: "" });
    expect(moved.stdout).not.toContain("[move] account:");
    expect(moved.stdout).toContain("[move] blob bytes: done, 1.5 MiB");
    expect(moved.stdout).toMatch(/verified: 3 repos/);
  }, MOVE_TIMEOUT);

  test("the source is as the fill left it after every move", () => {
    expect(dump(join(work, "source", "aurora.sqlite"))).toBe(sourceDump);
  });
});

/**
 * Lift the takedown of `blob` on the server at `service` (admin Basic, as a
 * moderator would) and expect getBlob to serve bytes that hash to its CID.
 */
async function expectServedAfterUntakedown(service: string, blob: { did: string; cid: string }): Promise<void> {
  const url = `${service}/xrpc/com.atproto.sync.getBlob?did=${blob.did}&cid=${blob.cid}`;
  expect((await fetch(url)).status).toBe(400);
  const lifted = await fetch(`${service}/xrpc/com.atproto.admin.updateSubjectStatus`, {
    method: "POST",
    headers: { authorization: ADMIN_AUTH, "content-type": "application/json" },
    body: JSON.stringify({ subject: { $type: "com.atproto.admin.defs#repoBlobRef", ...blob }, takedown: { applied: false } }),
  });
  expect(lifted.status).toBe(200);
  const served = await fetch(url);
  expect(served.status).toBe(200);
  const digest = new Uint8Array(createHash("sha256").update(new Uint8Array(await served.arrayBuffer())).digest());
  expect(Buffer.from(digest).equals(Buffer.from(CID.parse(blob.cid).multihash.digest))).toBe(true);
}

/** Every table's rows of a SQLite file, in key order (rowid, or the primary key of a WITHOUT ROWID table), as one string (read-only). */
function dump(file: string): string {
  const db = new Database(file, { readonly: true });
  const order = (name: string): string => {
    const { wr } = db.query<{ wr: number }, [string]>("select wr from pragma_table_list where schema = 'main' and name = ?").get(name)!;
    if (!wr) return "rowid";
    const key = db.query<{ name: string }, [string]>("select name from pragma_table_info(?) where pk > 0 order by pk").all(name);
    return key.map((c) => `"${c.name}"`).join(", ");
  };
  try {
    const tables = db.query<{ name: string }, []>("select name from sqlite_master where type = 'table' order by name").all();
    return tables
      .map(({ name }) => `${name}\n${JSON.stringify(db.query(`select * from "${name}" order by ${order(name)}`).all(), (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v))}`)
      .join("\n");
  } finally {
    db.close();
  }
}
