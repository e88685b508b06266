import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgresjs from "postgres";
import { BUN, ROOT, runCommand } from "./support/process";
import { freePort } from "./support/services";

// Run against the shared services of scripts/with-services.ts.
const PG = process.env.AURORA_TEST_POSTGRES_URL!;
const REDIS = process.env.AURORA_TEST_REDIS_URL!;
const S3 = process.env.AURORA_TEST_S3_ENDPOINT!;
const BUCKET = process.env.AURORA_TEST_S3_BUCKET!;

const dir = mkdtempSync(join(tmpdir(), "aurora-doctor-"));
const database = `aurora_doctor_${Date.now().toString(36)}`;
const dbUrl = PG.replace(/\/[^/]*$/, `/${database}`);
const admin = postgresjs(PG, { max: 1, onnotice: () => {} });

beforeAll(async () => {
  await admin.unsafe(`CREATE DATABASE ${database}`);
});
afterAll(async () => {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

const production = (overrides: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  PDS_DATA_DIRECTORY: join(dir, "data"),
  DATABASE_TYPE: "postgres",
  DATABASE_URL: dbUrl,
  POSTGRES_CONNECT_TIMEOUT: "3",
  PDS_BLOBSTORE_TYPE: "s3",
  PDS_BLOBSTORE_S3_BUCKET: BUCKET,
  PDS_BLOBSTORE_S3_ENDPOINT: S3,
  PDS_BLOBSTORE_S3_ACCESS_KEY_ID: "S3RVER",
  PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY: "S3RVER",
  PDS_BLOBSTORE_S3_CHECKSUMS: "when_required",
  REDIS_URL: REDIS,
  CACHE_KEY_PREFIX: "doctor-test:",
  ...overrides,
});

const aurora = (args: string[], env: Record<string, string | undefined>) =>
  runCommand([BUN, join(ROOT, "src/main.ts"), ...args], { cwd: dir, env, timeoutMs: 60_000 });

describe("aurora doctor", () => {
  test("reports pending migrations, then all green after `aurora migrate run`", async () => {
    const before = await aurora(["doctor"], production());
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/FAIL database +db-postgres .*migration\(s\) pending/);
    expect(before.stdout).toContain("aurora migrate run");
    expect(before.stdout).toMatch(/ok +blob store +storage-s3 +\d+ ms +write, read and delete/);
    expect(before.stdout).toMatch(/ok +cache +cache-redis +\d+ ms +set, get and delete/);

    const migrated = await aurora(["migrate", "run"], production());
    expect(migrated.code).toBe(0);

    const after = await aurora(["doctor"], production());
    expect(after.stdout).toMatch(/ok +database +db-postgres .*schema current/);
    expect(after.stdout).toContain("all checks passed");
    expect(after.code).toBe(0);
  }, 60_000);

  test("names the cause and fix of each unreachable backend and exits 1", async () => {
    const closed = await freePort();
    const ran = await aurora(
      ["doctor"],
      production({
        DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/postgres`,
        PDS_BLOBSTORE_S3_BUCKET: "no-such-bucket",
        REDIS_URL: `redis://127.0.0.1:${closed}`,
      }),
    );
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(/FAIL database +db-postgres/);
    expect(ran.stdout).toMatch(/FAIL blob store +storage-s3/);
    expect(ran.stdout).toMatch(/FAIL cache +cache-redis/);
    expect(ran.stdout).toContain("cause: nothing is listening at that host and port");
    expect(ran.stdout).toContain("cause: the bucket does not exist");
    expect(ran.stdout).toContain("3 of 3 checks failed");
  }, 60_000);

  test("a wrong database name is explained", async () => {
    const ran = await aurora(["doctor"], production({ DATABASE_URL: PG.replace(/\/[^/]*$/, "/no_such_db") }));
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain("cause: the database does not exist");
  }, 60_000);
});
