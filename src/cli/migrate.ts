import { Registry } from "prom-client";
import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import type { DatabasePlugin } from "@/contracts/db";
import { migrateToLatest, migrationStatus, revertLatest } from "@/db/migrator";
import { PluginError } from "@/errors";
import { createLogger } from "@/log";

/** `aurora migrate run`: apply every pending migration (waiting for any other node migrating now). */
export function migrateRun(file?: string): Promise<number> {
  return withDatabase(file, async (db) => {
    const applied = await migrateToLatest(db);
    for (const name of applied) out(`applied  ${name}`);
    if (applied.length === 0) out("nothing to apply: the database schema is up to date");
    return 0;
  });
}

/** `aurora migrate revert`: undo the newest applied migration. */
export function migrateRevert(file?: string): Promise<number> {
  return withDatabase(file, async (db) => {
    const reverted = await revertLatest(db);
    out(reverted ? `reverted ${reverted}` : "nothing to revert: no migration is applied");
    return 0;
  });
}

/** `aurora migrate status`: every migration, applied (with when) or pending. */
export function migrateStatus(file?: string): Promise<number> {
  return withDatabase(file, async (db) => {
    const all = await migrationStatus(db);
    for (const m of all) out(m.appliedAt ? `applied  ${m.name}  ${m.appliedAt}` : `pending  ${m.name}`);
    const pending = all.filter((m) => !m.appliedAt).length;
    out(`${all.length - pending} applied, ${pending} pending`);
    return 0;
  });
}

/**
 * Connect the configured database plugin (no other backend, no secrets
 * needed), run `fn`, close. A database failure is one line on stderr and
 * exit code 1; config errors go up to the CLI, which reports them the same way.
 */
async function withDatabase(file: string | undefined, fn: (db: DatabasePlugin) => Promise<number>): Promise<number> {
  const { config: user } = await loadUserConfig(file);
  const config = resolveConfig(user);
  // Logs go to stderr so stdout holds only the command's report.
  const log = createLogger(config.log.level === "info" ? "warn" : config.log.level, (line) => {
    process.stderr.write(line + "\n");
  });
  const db = config.db;
  try {
    await db.init({ dataDir: config.dataDir, log: log.child({ plugin: db.name }), metrics: new Registry() });
    return await fn(db);
  } catch (err) {
    if (!(err instanceof PluginError)) throw err;
    // The message already starts with "[aurora] [plugin]".
    process.stderr.write(`${err.message}\n`);
    return 1;
  } finally {
    await db.close().catch(() => {});
  }
}

function out(line: string): void {
  process.stdout.write(line + "\n");
}
