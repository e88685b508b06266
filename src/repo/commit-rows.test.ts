import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CID } from "multiformats/cid";
import type { Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";
import { migrateToLatest } from "@/db/migrator";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { testPluginContext } from "@test/conformance/cache";
import { metricTotal } from "@test/support/metrics";
import { freshPostgres } from "@test/support/firehose";
import { storeCommitRows } from "./commit-rows";
import { readWriteState } from "./record-rows";
import { SqlRepoStorage } from "./storage";
import type { PreparedWrite } from "./types";

let pg: Awaited<ReturnType<typeof freshPostgres>>;
beforeAll(async () => {
  pg = await freshPostgres();
});
afterAll(() => pg.drop());

const did = "did:plc:rows";
const bytes = (n: number) => new Uint8Array([n, n, n]);
// Any CIDs will do: the rows are stored by CID string.
const cids = ["X", "Y", "Z", "W", "N1", "N2", "C1", "C2"].map((_, i) =>
  CID.parse(["bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", "bafyreih3pf5x6qe4l6kqp2zt6yu3fkkbzl6aahkzjl4ag3ko2vkmrhq5gu", "bafyreibmydyhjgmqpmzd7nwt2umuhfd4htqwe2fw7hhrm7cvxqwlt4rxyi", "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "bafyreif75xbyloq4k2kvkczq33vk5fzvcytz5q3hqnjm5k5bsvp7s6axoi", "bafyreicjhcfmhobdf2dbsazb3utgjxnlwr4kk6eo5kv4jgmlosz4tqb46e", "bafyreia7qvkmymjlcyeyq2m2xzz6zz7grzahmwdqyn5ccbsywwoy7xzfwy", "bafyreid6kv3hcmqo3ti6htgrwuf2dcpv4zqj47hdhjrj6kafqvqhiyphpq"][i]!),
);
const [X, Y, Z, W, N1, N2, C1, C2] = cids.map(String) as [string, string, string, string, string, string, string, string];
const uri = (rkey: string) => `at://${did}/app.test.post/${rkey}`;
const write = (action: "create" | "update" | "delete", rkey: string, cid?: CID): PreparedWrite =>
  (action === "delete"
    ? { action, uri: uri(rkey), collection: "app.test.post", rkey }
    : { action, uri: uri(rkey), collection: "app.test.post", rkey, cid: cid!, bytes: bytes(1), blobs: [], validationStatus: "valid" }) as unknown as PreparedWrite;

const registries = new WeakMap<DatabasePlugin, Registry>();

async function migrated(db: DatabasePlugin): Promise<DatabasePlugin> {
  const { ctx } = testPluginContext();
  registries.set(db, ctx.metrics);
  await db.init(ctx);
  await migrateToLatest(db);
  return db;
}

/**
 * Counts the statements `fn` sends to `db`, by the plugin's query counter: it also sees the prepared
 * statements SQLite runs without Kysely's executor (src/db/immediate.ts).
 */
async function counting<T>(db: DatabasePlugin, fn: () => Promise<T>): Promise<{ value: T; statements: number }> {
  const total = () => metricTotal(registries.get(db)!, "aurora_db_queries_total");
  const before = await total();
  const value = await fn();
  return { value, statements: (await total()) - before };
}

describe.each([
  ["db-sqlite", () => sqlite({ path: ":memory:" }), 7],
  ["db-postgres", () => postgres({ url: pg.url, maxConnections: 4, minConnections: 1 }), 1],
] as const)("storeCommitRows on %s", (_name, make, statements) => {
  let db: DatabasePlugin;
  beforeAll(async () => void (db = await migrated(make())));
  afterAll(() => db.close());

  const blocksOf = async () =>
    (await db.db().selectFrom("repo_block").select("cid").where("did", "=", did).execute()).map((r) => r.cid).sort();
  const recordsOf = async () =>
    (await db.db().selectFrom("record").select(["rkey", "cid", "rev"]).where("did", "=", did).orderBy("rkey").execute()).map((r) => [r.rkey, r.cid, r.rev]);

  test("records, blocks, the root; a removed record block a live record shares is kept; reads in one statement", async () => {
    await db.transaction(async (tx) => {
      await storeCommitRows(tx, new SqlRepoStorage(tx, did), [write("create", "a", cids[0]), write("create", "b", cids[0]), write("create", "c", cids[1])], {
        cid: cids[6]!, rev: "r1", newBlocks: new Map([[X, bytes(1)], [Y, bytes(2)], [N1, bytes(3)], [C1, bytes(4)]]), removedCids: new Set(), removedRecords: [],
      });
    });
    expect(await blocksOf()).toEqual([X, Y, N1, C1].sort());

    await db.transaction(async (tx) => {
      const read = await counting(db, () => readWriteState(tx, did, [uri("a"), uri("c"), uri("d")]));
      expect(read.statements).toBe(1);
      expect(read.value.root).toEqual({ cid: C1, rev: "r1" });
      expect([...read.value.current].sort()).toEqual([[uri("a"), X], [uri("c"), Y]]);
      // a deleted (its block X still b's), c updated Y -> Z, d created; N1 replaced by N2.
      const commit = {
        cid: cids[7]!, rev: "r2", newBlocks: new Map([[Z, bytes(5)], [W, bytes(6)], [N2, bytes(7)], [C2, bytes(8)]]),
        removedCids: new Set([X, Y, N1, C1]), removedRecords: [X, Y],
      };
      const stored = await counting(db, () =>
        storeCommitRows(tx, new SqlRepoStorage(tx, did), [write("delete", "a"), write("update", "c", cids[2]), write("create", "d", cids[3])], commit),
      );
      expect(stored.statements).toBe(statements);
      expect([...commit.removedCids].sort()).toEqual([Y, N1, C1].sort());
    });
    expect(await blocksOf()).toEqual([X, Z, W, N2, C2].sort());
    expect(await recordsOf()).toEqual([["b", X, "r1"], ["c", Z, "r2"], ["d", W, "r2"]]);
    expect((await db.transaction((tx) => readWriteState(tx, did, []))).root).toEqual({ cid: C2, rev: "r2" });

    // b deleted while e is created with the same content: X stays, in this commit's own statement.
    await db.transaction(async (tx) => {
      const commit = { cid: cids[6]!, rev: "r3", newBlocks: new Map([[C1, bytes(4)]]), removedCids: new Set([X, C2]), removedRecords: [X] };
      await storeCommitRows(tx, new SqlRepoStorage(tx, did), [write("delete", "b"), write("create", "e", cids[0])], commit);
      expect([...commit.removedCids]).toEqual([C2]);
    });
    expect(await blocksOf()).toEqual([X, Z, W, N2, C1].sort());
    expect(await recordsOf()).toEqual([["c", Z, "r2"], ["d", W, "r2"], ["e", X, "r3"]]);
  });
});
