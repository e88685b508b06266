import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sql } from "kysely";
import { pluginContext } from "@test/conformance/database";
import type { DatabasePlugin } from "@/plugin-kit";
import { sqlite } from "./index";

// Transactions that queue up behind a running one share its COMMIT; each still succeeds or fails on its own.
describe("db-sqlite group commit", () => {
  let ctx: ReturnType<typeof pluginContext>;
  let plugin: DatabasePlugin;

  beforeEach(async () => {
    ctx = pluginContext();
    plugin = sqlite();
    await plugin.init(ctx);
    await sql`create table t (k text primary key, v integer not null)`.execute(plugin.db());
  });
  afterEach(async () => {
    await plugin.close();
    ctx.cleanup();
  });

  const rows = async () => (await sql<{ k: string; v: number }>`select k, v from t order by k`.execute(plugin.db())).rows;
  const insert = (k: string, v: number) => plugin.transaction(async (tx) => {
    await sql`insert into t (k, v) values (${k}, ${v})`.execute(tx);
    return k;
  });

  test("concurrent transactions all commit, in arrival order, each seeing the ones before it", async () => {
    const seen: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        plugin.transaction(async (tx) => {
          const { rows: before } = await sql<{ n: number }>`select count(*) as n from t`.execute(tx);
          seen.push(before[0]!.n);
          await sql`insert into t (k, v) values (${`k${String(i).padStart(2, "0")}`}, ${i})`.execute(tx);
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect((await rows()).length).toBe(50);
  });

  test("transactions that queue up share one COMMIT: the later ones run before the first is acknowledged", async () => {
    const order: string[] = [];
    await Promise.all(
      ["a", "b", "c"].map((k) =>
        plugin
          .transaction(async (tx) => {
            order.push(`run ${k}`);
            await sql`insert into t (k, v) values (${k}, 1)`.execute(tx);
          })
          .then(() => order.push(`ack ${k}`)),
      ),
    );
    expect(order).toEqual(["run a", "run b", "run c", "ack a", "ack b", "ack c"]);
  });

  test("a failing transaction is undone alone; the rest of its group commits", async () => {
    const outcomes = await Promise.allSettled([
      insert("a", 1),
      plugin.transaction(async (tx) => {
        await sql`insert into t (k, v) values ('b', 2)`.execute(tx);
        throw new Error("changed my mind");
      }),
      insert("a", 3), // primary key conflict with the first
      insert("c", 4),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe("changed my mind");
    expect(await rows()).toEqual([{ k: "a", v: 1 }, { k: "c", v: 4 }]);
  });

  test("nothing is acknowledged before COMMIT: when SQLite rolls the whole transaction back, every member fails", async () => {
    // A database that may not grow stands in for a full disk (as in full-disk.test.ts).
    await sql`pragma max_page_count = 8`.execute(plugin.db());
    const big = "x".repeat(64 * 1024);
    const outcomes = await Promise.allSettled([
      insert("small", 1),
      plugin.transaction(async (tx) => {
        for (let i = 0; i < 64; i++) await sql`insert into t (k, v) values (${big + i}, ${i})`.execute(tx);
      }),
      insert("after", 2),
    ]);
    await sql`pragma max_page_count = 1000000`.execute(plugin.db());
    expect(outcomes[1]!.status).toBe("rejected");
    // Whatever SQLite did (statement or whole transaction), a fulfilled write is stored and a rejected one is not.
    const stored = new Set((await rows()).map((r) => r.k));
    expect(stored.has("small")).toBe(outcomes[0]!.status === "fulfilled");
    expect(stored.has("after")).toBe(outcomes[2]!.status === "fulfilled");
    expect([...stored].some((k) => k.startsWith("x"))).toBe(false);
    // And the connection is usable afterwards.
    expect(await insert("later", 3)).toBe("later");
  });
});
