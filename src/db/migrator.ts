import { type MigrationResult, type MigrationProvider, Migrator } from "kysely";
import type { DatabasePlugin } from "@/contracts/db";
import { PluginError } from "@/errors";
import { dialectTypes } from "./dialect";
import { MIGRATIONS } from "./migrations";

/** Where applied migrations are recorded (Kysely's bookkeeping, renamed to ours). */
const MIGRATION_TABLE = "aurora_migration";
const MIGRATION_LOCK_TABLE = "aurora_migration_lock";

export interface MigrationStatus {
  name: string;
  /** When it was applied (ISO-8601), or null when pending. */
  appliedAt: string | null;
}

/**
 * Apply every pending migration, holding the plugin's migration lock so one
 * node migrates while the others wait and then find nothing to do. Resolves
 * to the names applied (empty when the schema was current).
 */
export async function migrateToLatest(plugin: DatabasePlugin): Promise<string[]> {
  return plugin.withMigrationLock(async () => {
    const { error, results = [] } = await migrator(plugin).migrateToLatest();
    if (error) throw migrationError(plugin, "apply", results, error);
    return results.map((r) => r.migrationName);
  });
}

/** Undo the newest applied migration; resolves to its name, or null when none was applied. */
export async function revertLatest(plugin: DatabasePlugin): Promise<string | null> {
  return plugin.withMigrationLock(async () => {
    const { error, results = [] } = await migrator(plugin).migrateDown();
    if (error) throw migrationError(plugin, "revert", results, error);
    return results[0]?.migrationName ?? null;
  });
}

/** Every known migration, oldest first, with whether and when it was applied. */
export async function migrationStatus(plugin: DatabasePlugin): Promise<MigrationStatus[]> {
  try {
    const all = await migrator(plugin).getMigrations();
    return all.map((m) => ({ name: m.name, appliedAt: m.executedAt ? m.executedAt.toISOString() : null }));
  } catch (err) {
    if (err instanceof PluginError) throw err;
    throw new PluginError(plugin.name, `cannot read migration status: ${(err as Error).message}`, { cause: err });
  }
}

function migrator(plugin: DatabasePlugin): Migrator {
  const types = dialectTypes(plugin.dialect);
  const provider: MigrationProvider = {
    getMigrations: async () =>
      Object.fromEntries(
        MIGRATIONS.map(([name, m]) => [name, { up: (db) => m.up(db, types), down: (db) => m.down(db, types) }]),
      ),
  };
  return new Migrator({
    db: plugin.db(),
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/** An unreachable database stays an unavailable PluginError; anything else names the failing migration. */
function migrationError(plugin: DatabasePlugin, verb: string, results: MigrationResult[], error: unknown): Error {
  if (error instanceof PluginError && error.unavailable) return error;
  const failed = results.find((r) => r.status === "Error")?.migrationName;
  const what = failed ? `migration ${failed}` : "migrations";
  return new PluginError(plugin.name, `cannot ${verb} ${what}: ${(error as Error).message ?? String(error)}`, {
    cause: error,
  });
}
