import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import postgresjs from "postgres";
import type { Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { testPluginContext } from "@test/conformance/cache";
import { metricSample } from "@test/support/metrics";
import { parseQuery } from "./metrics";
import { migrateToLatest } from "./migrator";

describe("parseQuery", () => {
  test.each([
    ['select "did", "handle" from "account" where "did" = ?', "SELECT", "account"],
    ['select * from "record" inner join "repo_root" on "repo_root"."did" = "record"."did"', "SELECT", "record"],
    ['insert into "repo_block" ("cid", "did") values ($1, $2) on conflict do nothing', "INSERT", "repo_block"],
    ['insert or replace into "cache_entry" ("key") values (?)', "INSERT", "cache_entry"],
    ['update "account" set "handle" = $1 where "did" = $2', "UPDATE", "account"],
    ['delete from "public"."refresh_token" where "id" = $1', "DELETE", "refresh_token"],
    ["  SELECT 1", "SELECT", "none"],
    ["select pg_notify($1, $2)", "SELECT", "none"],
    ["begin immediate", "OTHER", "none"],
    ['with t as (select set_config($1, $2, true)) select pg_advisory_xact_lock($3::int4, $4::int4) from t', "OTHER", "t"],
    ["with l as (select pg_advisory_xact_lock($1, $2)), e as (insert into repo_seq (did) select $3 from l returning seq) select seq from e", "INSERT", "repo_seq"],
    ['create table "kysely_migration" ("name" varchar(255))', "OTHER", "none"],
  ])("%s", (text, operation, table) => {
    expect(parseQuery(text)).toEqual({ operation, table });
  });
});

const base = process.env.AURORA_TEST_POSTGRES_URL;
if (!base) throw new Error("AURORA_TEST_POSTGRES_URL unset: run via scripts/with-services.ts");
const pgName = `aurora_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
const admin = postgresjs(base, { max: 1, onnotice: () => {} });
beforeAll(async () => {
  await admin.unsafe(`create database ${pgName}`);
});
afterAll(async () => {
  await admin.unsafe(`drop database if exists ${pgName} with (force)`);
  await admin.end();
});

const gauge = async (registry: Registry) => {
  const metric = await registry.getSingleMetric("aurora_db_connections")!.get();
  return Object.fromEntries(metric.values.map((v) => [v.labels.state, v.value]));
};

describe.each([
  ["db-sqlite", () => sqlite({ path: ":memory:" }), 1],
  ["db-postgres", () => postgres({ url: Object.assign(new URL(base), { pathname: `/${pgName}` }).toString(), maxConnections: 6, minConnections: 2 }), 6],
] as const)("%s feeds the database metrics", (_name, make, max) => {
  let db: DatabasePlugin;
  let registry: Registry;
  beforeAll(async () => {
    const { ctx } = testPluginContext();
    registry = ctx.metrics;
    db = make();
    await db.init(ctx);
    await migrateToLatest(db);
  });
  afterAll(() => db.close());

  test("every query is counted and timed by operation and table", async () => {
    const q = db.db();
    await q.insertInto("cache_entry").values({ key: "k", value: "v", expires_at: null }).execute();
    await q.selectFrom("cache_entry").selectAll().where("key", "=", "k").execute();
    await q.selectFrom("cache_entry").select("value").execute();
    await q.updateTable("cache_entry").set({ value: "w" }).where("key", "=", "k").execute();
    await q.deleteFrom("cache_entry").where("key", "=", "k").execute();
    await expect(sql`select * from no_such_table`.execute(q)).rejects.toThrow();
    const labels = (op: string, table = "cache_entry") => `{operation="${op}",table="${table}"}`;
    expect(await metricSample(registry, `aurora_db_queries_total${labels("INSERT")}`)).toBe(1);
    expect(await metricSample(registry, `aurora_db_queries_total${labels("SELECT")}`)).toBe(2);
    expect(await metricSample(registry, `aurora_db_queries_total${labels("UPDATE")}`)).toBe(1);
    expect(await metricSample(registry, `aurora_db_queries_total${labels("DELETE")}`)).toBe(1);
    expect(await metricSample(registry, `aurora_db_queries_total${labels("SELECT", "no_such_table")}`)).toBe(1);
    expect(await metricSample(registry, `aurora_db_query_duration_seconds_count${labels("SELECT")}`)).toBe(2);
    const sum = await metricSample(registry, `aurora_db_query_duration_seconds_sum${labels("SELECT")}`);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(5);
  });

  test("connections: active while a transaction holds one, idle after", async () => {
    let during: Record<string, number> = {};
    await db.transaction(async (tx) => {
      await tx.selectFrom("cache_entry").select("key").execute();
      during = await gauge(registry);
    });
    expect(during.active).toBe(1);
    expect(during.max).toBe(max);
    expect(during.total).toBeGreaterThanOrEqual(1);
    const after = await gauge(registry);
    expect(after.active).toBe(0);
    expect(after.idle).toBe(after.total!);
    expect(after.total).toBeGreaterThanOrEqual(1);
    expect(after.total).toBeLessThanOrEqual(max);
  });
});
