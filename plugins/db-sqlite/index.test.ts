import { expect, test } from "bun:test";
import { CompiledQuery, type Kysely, sql } from "kysely";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseConformance, pluginContext } from "@test/conformance/database";
import { migrationStatus, revertLatest } from "@/db/migrator";
import { type DatabasePlugin, migrateToLatest } from "@/plugin-kit";
import { type SqliteOptions, sqlite } from "./index";

const dir = mkdtempSync(join(tmpdir(), "aurora-sqlite-"));

/** Where a descriptor points, or "" when it closed meanwhile. */
function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

databaseConformance("db-sqlite (temp file)", {
  make: () => sqlite({ path: join(dir, "conformance.sqlite") }),
  prepare: async () => {},
  dispose: async () => rmSync(dir, { recursive: true, force: true }),
});

/** Run `fn` against a plugin opened on its own file, closed after. */
async function opened(file: string, options: Omit<SqliteOptions, "path">, fn: (plugin: DatabasePlugin) => Promise<void>): Promise<void> {
  const ctx = pluginContext();
  const plugin = sqlite({ path: join(dir, file), ...options });
  try {
    await plugin.init(ctx);
    await fn(plugin);
  } finally {
    await plugin.close();
    ctx.cleanup();
  }
}

test.each([
  ["synchronous by default FULL: an acknowledged commit survives a power loss", {}, "synchronous", 2],
  ["synchronous NORMAL when asked for", { synchronous: "normal" as const }, "synchronous", 1],
  ["a checkpoint every 4000 WAL pages, not SQLite's 1000", {}, "wal_autocheckpoint", 4000],
])("db-sqlite write connection: %s", async (_what, options, pragma, expected) => {
  await opened(`pragma-${pragma}-${expected}.sqlite`, options, async (plugin) => {
    const { rows } = await sql<Record<string, number>>`pragma ${sql.raw(pragma)}`.execute(plugin.db());
    expect(rows).toEqual([{ [pragma]: expected }]);
  });
});

test("a savepoint's journal stays in memory: no temporary file however many pages it copies", async () => {
  // SQLite names its temporary files etilqs_* and unlinks them on open: they show as deleted descriptors.
  const tempFiles = () => readdirSync("/proc/self/fd").filter((fd) => /etilqs_/.test(readlinkOr(`/proc/self/fd/${fd}`))).length;
  await opened("savepoint-journal.sqlite", {}, async (plugin) => {
    const db = plugin.db();
    await sql`create table pages (n integer primary key, body blob)`.execute(db);
    await sql`with recursive k(n) as (select 1 union all select n + 1 from k where n < 200) insert into pages select n, randomblob(3000) from k`.execute(db);
    const before = tempFiles();
    let during = -1;
    await db.transaction().execute(async (tx) => {
      await sql`update pages set body = randomblob(3000)`.execute(tx);
      // Every page changed again inside a savepoint is first copied to its journal: about 600 KB here.
      await sql`savepoint s`.execute(tx);
      await sql`update pages set body = randomblob(3000)`.execute(tx);
      during = tempFiles();
      await sql`release s`.execute(tx);
    });
    expect(during).toBe(before);
  });
});

test("migrations index refresh_token.next_id: following a rotation chain is a lookup, not a scan", async () => {
  await opened("indexes.sqlite", {}, async (plugin) => {
    await migrateToLatest(plugin);
    const { rows } = await sql<{ detail: string }>`explain query plan select id from refresh_token where next_id = ${"x"}`.execute(plugin.db());
    expect(rows.map((r) => r.detail).join("; ")).toContain("refresh_token_next_id_idx");
  });
});

test("migration 010 keeps repo_block's rows in its primary key's b-tree (WITHOUT ROWID), and its revert gives the rowid table back, rows intact", async () => {
  await opened("clustered.sqlite", {}, async (plugin) => {
    const db = plugin.db();
    const tableSql = async () =>
      (await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'repo_block'`.execute(db)).rows[0]?.sql ?? "";
    const blocks = async () => (await sql`select did, cid, rev, size, content from repo_block order by did, cid`.execute(db)).rows;
    const exportPlan = async () =>
      (await sql<{ detail: string }>`explain query plan select cid, rev, content from repo_block where did = ${"d"} and cid > ${"c"} order by cid limit 500`.execute(db)).rows
        .map((r) => r.detail)
        .join("; ");
    await migrateToLatest(plugin);
    expect(await tableSql()).toMatch(/without rowid$/i);
    await sql`insert into repo_block (did, cid, rev, size, content) values
      ('did:plc:b', 'bafy2', '3l2', 2, x'0102'), ('did:plc:a', 'bafy9', '3l1', 1, x'09'), ('did:plc:a', 'bafy1', '3l3', 0, x'')`.execute(db);
    const rows = await blocks();
    expect(rows).toHaveLength(3);

    expect(await revertLatest(plugin)).toBe("010-repo-block-clustered");
    expect(await tableSql()).not.toMatch(/without rowid/i);
    expect(await blocks()).toEqual(rows);
    await migrateToLatest(plugin);
    expect(await tableSql()).toMatch(/without rowid$/i);
    expect(await blocks()).toEqual(rows);
    const { rows: indexes } = await sql<{ name: string }>`select name from pragma_index_list('repo_block') order by name`.execute(db);
    expect(indexes.map((i) => i.name)).toEqual(["repo_block_did_rev_idx", "sqlite_autoindex_repo_block_1"]);
    // Last: bun:sqlite leaves an EXPLAIN statement unreset, and an active statement forbids DROP TABLE.
    expect(await exportPlan()).toContain("USING PRIMARY KEY (did=? AND cid>?)");
  });
});

test("migration 010 failing half-way (the disk full) leaves repo_block as it was and itself pending; it applies once there is room", async () => {
  await opened("clustered-full.sqlite", {}, async (plugin) => {
    const db = plugin.db();
    await migrateToLatest(plugin);
    await revertLatest(plugin);
    // About 2 MB of blocks: their copy cannot fit in the few pages left below.
    await sql`with recursive k(n) as (select 1 union all select n + 1 from k where n < 2000)
      insert into repo_block (did, cid, rev, size, content) select 'did:plc:' || (n % 7), 'bafy' || n, '3l' || n, 1000, randomblob(1000) from k`.execute(db);
    const blocks = async () => (await sql`select did, cid, rev, size, content from repo_block order by did, cid`.execute(db)).rows;
    const before = await blocks();
    const { rows: pages } = await sql<{ page_count: number }>`pragma page_count`.execute(db);
    await sql`pragma max_page_count = ${sql.raw(String(pages[0]!.page_count + 20))}`.execute(db);
    const failed = await migrateToLatest(plugin).then(() => undefined, (err: unknown) => err as Error);
    expect(failed?.message).toContain("database or disk is full");
    expect((await migrationStatus(plugin)).find((m) => m.name === "010-repo-block-clustered")?.appliedAt).toBeNull();
    const { rows: tables } = await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'table' and name like 'repo_block%'`.execute(db);
    expect(tables.map((t) => t.name)).toEqual(["repo_block"]);
    expect(tables[0]!.sql).not.toMatch(/without rowid/i);
    expect(await blocks()).toEqual(before);

    await sql`pragma max_page_count = 1000000000`.execute(db);
    expect(await migrateToLatest(plugin)).toEqual(["010-repo-block-clustered"]);
    expect(await blocks()).toEqual(before);
  });
});

test("db-sqlite maxSnapshots: snapshots past the bound wait for a free connection instead of opening more", async () => {
  await opened("snapshots.sqlite", { maxSnapshots: 2 }, async (plugin) => {
    await migrateToLatest(plugin);
    let open = 0;
    let most = 0;
    const gate = Promise.withResolvers<void>();
    const hold = () =>
      plugin.snapshot(async (tx) => {
        open++;
        most = Math.max(most, open);
        await tx.selectFrom("repo_root").select("did").execute();
        await gate.promise;
        open--;
      });
    const all = Promise.all([hold(), hold(), hold(), hold()]);
    await Bun.sleep(50);
    expect(open).toBe(2);
    gate.resolve();
    await all;
    expect(most).toBe(2);
  });
});

test("db-sqlite LIMIT and OFFSET are read when the statement runs, not planned as constants (which would prepare it again on every run)", async () => {
  await opened("limits.sqlite", {}, async (plugin) => {
    const db = plugin.db() as unknown as Kysely<{ n: { v: number } }>;
    await sql`create table n (v integer primary key)`.execute(db);
    await db.insertInto("n").values(Array.from({ length: 20 }, (_, v) => ({ v }))).execute();
    const page = (limit: number, offset: number) => db.selectFrom("n").select("v").orderBy("v", "desc").limit(limit).offset(offset);
    expect((await page(3, 2).execute()).map((r) => r.v)).toEqual([17, 16, 15]);
    expect((await page(5, 0).execute()).map((r) => r.v)).toEqual([19, 18, 17, 16, 15]);
    const compiled = page(7777, 8888).compile();
    const { rows } = await db.executeQuery<{ opcode: string; p1: number }>(CompiledQuery.raw(`explain ${compiled.sql}`, [...compiled.parameters]));
    const constants = rows.filter((r) => r.opcode === "Integer").map((r) => r.p1);
    expect(constants).not.toContain(7777);
    expect(constants).not.toContain(8888);
  });
});
