import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { testPluginContext } from "@test/conformance/cache";
import { metricSample } from "@test/support/metrics";
import { freshPostgres } from "@test/support/firehose";
import { sql } from "kysely";
import { isUniqueViolation } from "./errors";
import { immediateRunner } from "./immediate";
import { migrateToLatest } from "./migrator";
import { prepared } from "./prepared";

let pg: Awaited<ReturnType<typeof freshPostgres>>;
beforeAll(async () => {
  pg = await freshPostgres();
});
afterAll(() => pg.drop());

type Block = { did: string; cid: string; rev: string; size: number; content: Uint8Array };
let builds = 0;
const insertBlocks = prepared<{ blocks: Block[] }, never>((db, $) => {
  builds++;
  return db
    .insertInto("repo_block")
    .values($.rows("blocks", ["did", "cid", "rev", "size", "content"]))
    .onConflict((oc) => oc.columns(["did", "cid"]).doNothing());
});
const selectBlocks = prepared<{ did: string; cids: string[] }, { cid: string; size: number }>((db, $) =>
  db.selectFrom("repo_block").select(["cid", "size"]).where("did", "=", $("did")).where("cid", "in", $.list("cids")).orderBy("cid"),
);
const selectOne = prepared<{ did: string; cid: string }, { content: Uint8Array }>((db, $) =>
  db.selectFrom("repo_block").select("content").where("did", "=", $("did")).where("cid", "=", $("cid")).where("rev", "!=", "fixed"),
);

const insertStrict = prepared<{ blocks: Block[] }, never>((db, $) =>
  db.insertInto("repo_block").values($.rows("blocks", ["did", "cid", "rev", "size", "content"])),
);
const countBlocks = prepared<{ did: string }, { n: number | string }>((db, $) =>
  db.selectFrom("repo_block").select((eb) => eb.fn.countAll<number>().as("n")).where("did", "=", $("did")),
);

const block = (cid: string, size = 3): Block => ({ did: "did:plc:p", cid, rev: "r", size, content: new Uint8Array(size).fill(7) });

describe.each([
  ["db-sqlite", () => sqlite({ path: ":memory:" })],
  ["db-postgres", () => postgres({ url: pg.url, maxConnections: 4, minConnections: 1 })],
] as const)("prepared on %s", (_name, make) => {
  let db: DatabasePlugin;
  let registry: Registry;
  beforeAll(async () => {
    db = make();
    const { ctx } = testPluginContext();
    registry = ctx.metrics;
    await db.init(ctx);
    await migrateToLatest(db);
  });
  afterAll(() => db.close());

  test("compiles once per row count and runs with new parameters, in and out of transactions", async () => {
    builds = 0;
    await insertBlocks.execute(db.db(), { blocks: [block("a"), block("b", 5)] });
    await db.transaction((tx) => insertBlocks.execute(tx, { blocks: [block("c"), block("d", 1)] }));
    expect(builds).toBe(1);
    await insertBlocks.execute(db.db(), { blocks: [block("e", 2)] });
    expect(builds).toBe(2);
    const rows = await selectBlocks.rows(db.db(), { did: "did:plc:p", cids: ["a", "b", "d", "e", "zz"] });
    expect(rows.map((r) => [r.cid, Number(r.size)])).toEqual([["a", 3], ["b", 5], ["d", 1], ["e", 2]]);
    expect(await selectBlocks.rows(db.db(), { did: "did:plc:other", cids: ["a", "b", "d", "e", "zz"] })).toEqual([]);
    const one = await db.transaction((tx) => selectOne.rows(tx, { did: "did:plc:p", cid: "b" }));
    expect([...new Uint8Array(one[0]!.content)]).toEqual([7, 7, 7, 7, 7]);
    // A value written into the query by its builder stays a parameter of its own.
    expect(await selectOne.rows(db.db(), { did: "did:plc:p", cid: "fixed" })).toEqual([]);
  });

  // SQLite runs these on the spot when it can (src/db/immediate.ts): never past a transaction that holds its one connection.
  test("a query outside a transaction never sees what an open one has not committed", async () => {
    const did = "did:plc:uncommitted";
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
    let finish!: () => void;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    const failed = db.transaction(async (tx) => {
      await insertBlocks.execute(tx, { blocks: [{ ...block("u1"), did }] });
      // Its own query sees its own write.
      expect(Number((await countBlocks.rows(tx, { did }))[0]!.n)).toBe(1);
      inserted();
      await finishing;
      throw new Error("rolled back");
    });
    await insertedYet;
    const outside = countBlocks.rows(db.db(), { did });
    let settled = false;
    void outside.then(() => (settled = true));
    await Bun.sleep(20);
    // SQLite: waits for the connection; PostgreSQL: another connection, before the commit.
    if (db.dialect === "sqlite") expect(settled).toBe(false);
    finish();
    await expect(failed).rejects.toThrow("rolled back");
    expect(Number((await outside)[0]!.n)).toBe(0);
    expect(Number((await countBlocks.rows(db.db(), { did }))[0]!.n)).toBe(0);
  });

  test("a failing statement rejects with the plugin's error, and every run is counted", async () => {
    const line = 'aurora_db_queries_total{operation="INSERT",table="repo_block"}';
    const before = (await metricSample(registry, line)) ?? 0;
    const row = { ...block("dup"), did: "did:plc:dup" };
    await insertStrict.execute(db.db(), { blocks: [row] });
    const err = await insertStrict.execute(db.db(), { blocks: [row] }).then(() => undefined, (e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    // In a transaction too, and the transaction rolls back as usual.
    const inTx = await db
      .transaction(async (tx) => {
        await insertStrict.execute(tx, { blocks: [{ ...row, cid: "dup2" }] });
        await insertStrict.execute(tx, { blocks: [row] });
      })
      .then(() => undefined, (e: unknown) => e);
    expect(isUniqueViolation(inTx)).toBe(true);
    expect(Number((await countBlocks.rows(db.db(), { did: row.did }))[0]!.n)).toBe(1);
    expect(await metricSample(registry, line)).toBe(before + 4);
  });
});

test("on db-postgres a prepared query outside a transaction goes straight to the pool, and is an active connection until it answers", async () => {
  const db = postgres({ url: pg.url, maxConnections: 4, minConnections: 1 });
  const { ctx } = testPluginContext();
  await db.init(ctx);
  try {
    expect(immediateRunner(db.db().getExecutor().adapter)).toBeDefined();
    const sleepy = prepared<Record<string, never>, { slept: string }>((k) => k.selectNoFrom(sql<string>`pg_sleep(0.3)::text`.as("slept")));
    const active = () => metricSample(ctx.metrics, 'aurora_db_connections{state="active"}');
    const running = sleepy.rows(db.db(), {});
    await Bun.sleep(100);
    expect(await active()).toBe(1);
    expect(await running).toEqual([{ slept: "" }]);
    expect(await active()).toBe(0);
    expect(await metricSample(ctx.metrics, 'aurora_db_queries_total{operation="SELECT",table="none"}')).toBe(1);
  } finally {
    await db.close();
  }
});
