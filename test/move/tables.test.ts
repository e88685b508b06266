/**
 * The mover's table list against a migrated database: every table the
 * migrations create is copied (a new table without a spec fails here), and
 * each spec's key is the table's primary key, in order.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { sqlite } from "@plugins/db-sqlite";
import { migrateToLatest } from "@/db/migrator";
import { createLogger } from "@/log";
import { TABLES } from "@/move/tables";

describe("move table list", () => {
  test("names every table of a migrated database with its primary key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aurora-move-tables-"));
    const db = sqlite({ path: "tables.sqlite" });
    try {
      await db.init({ dataDir: dir, log: createLogger("silent"), metrics: new Registry() });
      await migrateToLatest(db);
      await db.close();
      const file = new Database(join(dir, "tables.sqlite"), { readonly: true });
      const names = file
        .query<{ name: string }, []>("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'aurora_migration%'")
        .all()
        .map((r) => r.name)
        .sort();
      expect(TABLES.map((t) => t.name as string).sort()).toEqual(names);
      for (const spec of TABLES) {
        const pk = file
          .query<{ name: string; pk: number }, []>(`select name, pk from pragma_table_info('${spec.name}') where pk > 0 order by pk`)
          .all()
          .map((r) => r.name);
        expect({ table: spec.name, key: [...spec.key] as string[] }).toEqual({ table: spec.name, key: pk });
      }
      expect(TABLES.filter((t) => t.serial).map((t) => `${t.name}.${t.serial}`)).toEqual(["repo_seq.seq"]);
      expect(TABLES[0]?.name).toBe("account");
      file.close();
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
