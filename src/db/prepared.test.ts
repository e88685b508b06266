import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DatabasePlugin } from "@/contracts/db";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { testPluginContext } from "@test/conformance/cache";
import { freshPostgres } from "@test/support/firehose";
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

const block = (cid: string, size = 3): Block => ({ did: "did:plc:p", cid, rev: "r", size, content: new Uint8Array(size).fill(7) });

describe.each([
  ["db-sqlite", () => sqlite({ path: ":memory:" })],
  ["db-postgres", () => postgres({ url: pg.url, maxConnections: 4, minConnections: 1 })],
] as const)("prepared on %s", (_name, make) => {
  let db: DatabasePlugin;
  beforeAll(async () => {
    db = make();
    await db.init(testPluginContext().ctx);
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
});
