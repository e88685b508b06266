/**
 * SQLite rolls a transaction back by itself when the database cannot grow
 * (SQLITE_FULL). The caller must then see that error, a DbError the HTTP
 * layer answers with 503, not the "cannot rollback - no transaction is
 * active" of a second rollback, which used to surface as a 500.
 */
import { expect, test } from "bun:test";
import { sql } from "kysely";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pluginContext } from "@test/conformance/database";
import { DbError } from "@/db/errors";
import { errorResponse } from "@/http/respond";
import { createLogger } from "@/log";
import { sqlite } from "./index";

test("a transaction SQLite rolled back on SQLITE_FULL fails with the SQLITE_FULL DbError (503), and the next one works", async () => {
  const dir = mkdtempSync(join(tmpdir(), "aurora-sqlite-full-"));
  const ctx = pluginContext();
  const plugin = sqlite({ path: join(dir, "full.sqlite") });
  try {
    await plugin.init(ctx);
    await sql`create table filler (b blob)`.execute(plugin.db());
    // A database that may not grow stands in for a full disk: SQLite answers SQLITE_FULL either way.
    await sql`pragma max_page_count = 8`.execute(plugin.db());
    const failed = await plugin
      .transaction(async (tx) => {
        await sql`insert into filler values (${new Uint8Array(256 * 1024)})`.execute(tx);
      })
      .then(() => undefined, (err: unknown) => err);
    expect(failed).toBeInstanceOf(DbError);
    expect((failed as DbError).reason).toBe("unavailable");
    expect((failed as DbError).message).toContain("full");
    const res = errorResponse(failed, createLogger("error", () => {}));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");

    await sql`pragma max_page_count = 1000000`.execute(plugin.db());
    await plugin.transaction(async (tx) => {
      await sql`insert into filler values (${new Uint8Array(16)})`.execute(tx);
    });
    const { rows } = await sql<{ n: number }>`select count(*) as n from filler`.execute(plugin.db());
    expect(rows).toEqual([{ n: 1 }]);
  } finally {
    await plugin.close();
    ctx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
