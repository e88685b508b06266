import { afterAll, describe, expect, test } from "bun:test";
import type { DatabasePlugin } from "@/contracts/db";
import { migrateToLatest } from "@/db/migrator";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { pluginContext } from "@test/conformance/database";
import { freshPostgres } from "@test/support/firehose";
import { pruneEvents } from "./pruner";

const ctx = pluginContext();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  ctx.cleanup();
});

const HOUR = 3_600_000;
const backends: [string, () => Promise<DatabasePlugin>][] = [
  ["sqlite", async () => sqlite({ path: `prune-${crypto.randomUUID()}.sqlite` })],
  [
    "postgres",
    async () => {
      const pg = await freshPostgres();
      cleanups.push(() => pg.drop());
      return postgres({ url: pg.url, maxConnections: 4, minConnections: 1 });
    },
  ],
];

describe.each(backends)("pruning events beyond the backfill window (%s)", (_, make) => {
  test("removes old events in batches, keeps recent ones and always the newest", async () => {
    const db = await make();
    await db.init(ctx);
    cleanups.push(() => db.close());
    await migrateToLatest(db);
    const now = Date.now();
    const rows = [100, 90, 80, 2, 1].map((hoursAgo) => ({
      did: "did:plc:prune",
      event_type: "identity",
      event: new Uint8Array([0xa0]),
      sequenced_at: new Date(now - hoursAgo * HOUR).toISOString(),
    }));
    await db.db().insertInto("repo_seq").values(rows).execute();

    expect(await pruneEvents(db, new Date(now - 72 * HOUR))).toBe(3);
    const left = await db.db().selectFrom("repo_seq").select(["seq", "sequenced_at"]).orderBy("seq").execute();
    expect(left.map((r) => r.sequenced_at)).toEqual([rows[3]!.sequenced_at, rows[4]!.sequenced_at]);

    // Everything old: the newest event stays, so the firehose still knows its head seq.
    const head = left.at(-1)!.seq;
    expect(await pruneEvents(db, new Date(Date.now() + HOUR))).toBe(1);
    expect((await db.db().selectFrom("repo_seq").select("seq").execute()).map((r) => r.seq)).toEqual([head]);

    // Seqs are never reused after pruning.
    await db.db().insertInto("repo_seq").values({ ...rows[4]!, sequenced_at: new Date().toISOString() }).execute();
    const newest = await db.db().selectFrom("repo_seq").select((e) => e.fn.max("seq").as("seq")).executeTakeFirstOrThrow();
    expect(Number(newest.seq)).toBe(head + 1);
  });
});
