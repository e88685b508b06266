import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgresjs from "postgres";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { redis } from "@plugins/cache-redis";
import { memory } from "@/cache/memory";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import { migrateToLatest } from "@/db/migrator";
import { PluginError } from "@/errors";
import { testPluginContext } from "@test/conformance/cache";
import { pluginContext } from "@test/conformance/database";
import { createReplayStore, type ReplayStore } from "./replay";

const pgBase = process.env.AURORA_TEST_POSTGRES_URL;
const redisUrl = process.env.AURORA_TEST_REDIS_URL;
if (!pgBase || !redisUrl) throw new Error("AURORA_TEST_POSTGRES_URL / AURORA_TEST_REDIS_URL unset: run via scripts/test.sh");

const dir = mkdtempSync(join(tmpdir(), "aurora-replay-"));
const pgName = `aurora_replay_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
const pgAdmin = postgresjs(pgBase, { max: 1, onnotice: () => {} });
const ctx = pluginContext();

const sqliteDb = sqlite({ path: join(dir, "replay.sqlite") });
const pgDb = postgres({ url: Object.assign(new URL(pgBase), { pathname: `/${pgName}` }).toString(), maxConnections: 8 });
const redisCache = redis({ url: redisUrl, keyPrefix: `aurora-test:${crypto.randomUUID().slice(0, 8)}:`, poolSize: 2 });
const memoryCache = memory();

beforeAll(async () => {
  await pgAdmin.unsafe(`create database ${pgName}`);
  for (const db of [sqliteDb, pgDb]) {
    await db.init(ctx);
    await migrateToLatest(db);
  }
  await memoryCache.init(ctx);
  await redisCache.init(testPluginContext("silent").ctx);
});

afterAll(async () => {
  await Promise.all([sqliteDb.close(), pgDb.close(), redisCache.close(), memoryCache.close()]);
  await pgAdmin.unsafe(`drop database if exists ${pgName} with (force)`);
  await pgAdmin.end();
  rmSync(dir, { recursive: true, force: true });
  ctx.cleanup();
});

/** A shared cache that is down: every script call throws as the Redis plugin does when unreachable. */
function downCache(): CachePlugin & { calls: number } {
  const down = Object.create(memoryCache) as CachePlugin & { calls: number };
  Object.defineProperty(down, "shared", { value: true });
  down.calls = 0;
  down.atomic = async () => {
    down.calls++;
    throw new PluginError("cache-redis", "connection refused", { unavailable: true });
  };
  return down;
}

const rowCount = async (db: DatabasePlugin) =>
  Number((await db.db().selectFrom("oauth_replay").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);

interface Setup {
  name: string;
  /** Where the sightings should land. */
  path: "cache" | "db";
  make(now?: () => number): ReplayStore;
  db?: DatabasePlugin;
}

const SETUPS: Setup[] = [
  { name: "memory cache + sqlite (one process)", path: "cache", make: (now) => createReplayStore({ cache: memoryCache, db: sqliteDb, now }) },
  { name: "redis + postgres (nodes)", path: "cache", make: (now) => createReplayStore({ cache: redisCache, db: pgDb, now }) },
  { name: "memory cache + postgres: the table", path: "db", db: pgDb, make: (now) => createReplayStore({ cache: memoryCache, db: pgDb, now }) },
  { name: "unreachable redis + sqlite: the table", path: "db", db: sqliteDb, make: (now) => createReplayStore({ cache: downCache(), db: sqliteDb, now }) },
  { name: "unreachable redis + postgres: the table", path: "db", db: pgDb, make: (now) => createReplayStore({ cache: downCache(), db: pgDb, now }) },
];

describe.each(SETUPS)("replay store on $name", (setup) => {
  const key = () => `jkt-${crypto.randomUUID()}`;

  test("a key is unique once, then a replay; another key or namespace is not affected", async () => {
    const store = setup.make();
    const k = key();
    expect(await store.unique("dpop", k, 60)).toBe(true);
    expect(await store.unique("dpop", k, 60)).toBe(false);
    expect(await store.unique("dpop", `${k}x`, 60)).toBe(true);
    expect(await store.unique("client-assertion", k, 60)).toBe(true);
  });

  test("concurrent sightings of one key: exactly one is unique", async () => {
    const store = setup.make();
    const k = key();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.unique("dpop", k, 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test("long keys are hashed: still exact, and the stored key is short", async () => {
    const store = setup.make();
    const long = "j".repeat(5000) + crypto.randomUUID();
    expect(await store.unique("dpop", long, 60)).toBe(true);
    expect(await store.unique("dpop", long, 60)).toBe(false);
    expect(await store.unique("dpop", `${long}.`, 60)).toBe(true);
    if (setup.db) {
      const rows = await setup.db.db().selectFrom("oauth_replay").select("key").execute();
      expect(Math.max(...rows.map((r) => r.key.length))).toBeLessThan(200);
    }
  });

  test("a sighting expires after its ttl and the key is unique again", async () => {
    if (setup.path === "db") {
      const clock = { t: Date.now() };
      const store = setup.make(() => clock.t);
      const k = key();
      expect(await store.unique("dpop", k, 30)).toBe(true);
      clock.t += 29_000;
      expect(await store.unique("dpop", k, 30)).toBe(false);
      clock.t += 2_000;
      expect(await store.unique("dpop", k, 30)).toBe(true);
      expect(await store.unique("dpop", k, 30)).toBe(false);
    } else {
      const store = setup.make();
      const k = key();
      expect(await store.unique("dpop", k, 0.15)).toBe(true);
      expect(await store.unique("dpop", k, 0.15)).toBe(false);
      await Bun.sleep(300);
      expect(await store.unique("dpop", k, 0.15)).toBe(true);
    }
  });

  test("refuses a bad namespace or ttl", async () => {
    const store = setup.make();
    await expect(store.unique("DPoP:x", "k", 60)).rejects.toThrow("namespace");
    await expect(store.unique("dpop", "k", 0)).rejects.toThrow("ttl");
    await expect(store.unique("dpop", "k", Number.NaN)).rejects.toThrow("ttl");
  });
});

describe("replay store paths", () => {
  test("the cache path writes no rows; the table path does", async () => {
    const before = await rowCount(pgDb);
    await createReplayStore({ cache: redisCache, db: pgDb }).unique("dpop", crypto.randomUUID(), 60);
    expect(await rowCount(pgDb)).toBe(before);
    await createReplayStore({ cache: memoryCache, db: pgDb }).unique("dpop", crypto.randomUUID(), 60);
    expect(await rowCount(pgDb)).toBe(before + 1);
  });

  test("an unreachable shared cache is tried, then the table answers", async () => {
    const cache = downCache();
    const store = createReplayStore({ cache, db: pgDb });
    const k = crypto.randomUUID();
    expect(await store.unique("dpop", k, 60)).toBe(true);
    expect(await store.unique("dpop", k, 60)).toBe(false);
    expect(cache.calls).toBe(2);
  });

  test("a cache failure that is not an outage is not hidden", async () => {
    const broken = Object.create(memoryCache) as CachePlugin;
    broken.atomic = async () => {
      throw new PluginError("cache-redis", "script failed", { unavailable: false });
    };
    await expect(createReplayStore({ cache: broken, db: sqliteDb }).unique("dpop", "k", 60)).rejects.toThrow("script failed");
  });

  test("expired rows are removed now and then, a bounded batch at a time", async () => {
    await sqliteDb.db().deleteFrom("oauth_replay").execute();
    const clock = { t: Date.now() };
    const store = createReplayStore({ cache: downCache(), db: sqliteDb, now: () => clock.t });
    const old = new Date(clock.t - 1000).toISOString();
    await sqliteDb.db().insertInto("oauth_replay").values(Array.from({ length: 700 }, (_, i) => ({ key: `dpop:old-${i}`, expires_at: old }))).execute();
    // The first call cleans (no clean-up yet in this process): one batch of 500 of the 700 expired rows.
    expect(await store.unique("dpop", "fresh-1", 600)).toBe(true);
    expect(await rowCount(sqliteDb)).toBe(1 + 200);
    // Within a minute: no clean-up.
    clock.t += 30_000;
    expect(await store.unique("dpop", "fresh-2", 600)).toBe(true);
    expect(await rowCount(sqliteDb)).toBe(2 + 200);
    // A minute after the first: the rest go; the live rows stay.
    clock.t += 31_000;
    expect(await store.unique("dpop", "fresh-3", 600)).toBe(true);
    expect(await rowCount(sqliteDb)).toBe(3);
  });
});
