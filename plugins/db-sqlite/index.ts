import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { DatabasePlugin } from "@/contracts/db";
import { PluginError } from "@/errors";

export interface SqliteOptions {
  /** Database file; relative paths are under the data directory. `:memory:` for tests. @default "aurora.sqlite" */
  path?: string;
  /** How long a writer waits for the lock before failing, in ms. @default 5000 */
  busyTimeoutMs?: number;
}

/** SQLite through bun:sqlite: one file, WAL mode, a single writer. */
export function sqlite(options: SqliteOptions = {}): DatabasePlugin {
  const name = "db-sqlite";
  let db: Database | undefined;

  return {
    kind: "db",
    name,
    dialect: "sqlite",
    shared: false,
    async init(ctx) {
      const path = options.path ?? "aurora.sqlite";
      const file = path === ":memory:" ? path : resolve(ctx.dataDir, path);
      try {
        if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
        db = new Database(file, { create: true, strict: true });
        db.run("PRAGMA journal_mode = WAL");
        db.run(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
        db.run("PRAGMA foreign_keys = ON");
      } catch (cause) {
        throw new PluginError(name, `cannot open ${file}: ${(cause as Error).message}`, { cause });
      }
    },
    async health() {
      if (!db) throw new PluginError(name, "not initialised", { unavailable: true });
      db.query("SELECT 1").get();
    },
    describe: () => ({ path: options.path ?? "aurora.sqlite", busyTimeoutMs: options.busyTimeoutMs ?? 5000 }),
    async close() {
      db?.close();
      db = undefined;
    },
  };
}
