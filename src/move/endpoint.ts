import { Registry } from "prom-client";
import { sql } from "kysely";
import { loadUserConfig } from "@/config/load";
import { type RunConfig, resolveConfig } from "@/config/resolve";
import { loadSecrets } from "@/config/secrets";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { DatabasePlugin } from "@/contracts/db";
import { migrateToLatest } from "@/db/migrator";
import { MIGRATIONS } from "@/db/migrations";
import { createLogger } from "@/log";
import { MoveError } from "./errors";

/** One side of a move: a config's database and blob store, initialised (nothing else of the server). */
export interface Endpoint {
  readonly config: RunConfig;
  /** Where the config came from, for messages. */
  readonly source: string;
  readonly db: DatabasePlugin;
  readonly blobs: BlobStorePlugin;
  close(): Promise<void>;
}

/**
 * Load a config file (or the defaults, as `serve` does), initialise its
 * database and blob plugins and, with `migrate`, bring the database to the
 * latest migration. Nothing is written when `migrate` is false beyond what a
 * plugin's `init` does to open its backend. Secrets are read, never generated
 * into the data directory. Plugin logs go to stderr at warn level, so stdout
 * carries only the command's own report.
 */
export async function openEndpoint(configFile: string | undefined, opts: { migrate: boolean }): Promise<Endpoint> {
  const { config: user, source } = await loadUserConfig(configFile);
  const config = await loadSecrets(resolveConfig(user), { persist: false });
  const { db, blobs } = config;
  const close = await initBackends(config.dataDir, db, blobs, opts.migrate);
  return { config, source, db, blobs, close };
}

/**
 * Initialise a database and a blob store for a copy (no server around them: warnings to stderr, metrics kept
 * nowhere), migrating the database when asked; closes both again if any step fails. Returns their `close`.
 */
export async function initBackends(dataDir: string, db: DatabasePlugin, blobs: BlobStorePlugin, migrate: boolean): Promise<() => Promise<void>> {
  const log = createLogger("warn", (line) => process.stderr.write(`${line}\n`));
  const ctx = (name: string) => ({ dataDir, log: log.child({ plugin: name }), metrics: new Registry() });
  const close = async () => {
    await blobs.close().catch(() => {});
    await db.close().catch(() => {});
  };
  try {
    await db.init(ctx(db.name));
    await blobs.init(ctx(blobs.name));
    if (migrate) await migrateToLatest(db);
  } catch (err) {
    await close();
    throw err;
  }
  return close;
}

/**
 * Refuse a database whose schema is not exactly this version's latest: no
 * migration applied (not an Aurora database, or the wrong config), some
 * pending (older), or one this version does not know (newer). Read-only.
 */
export async function assertLatestSchema(endpoint: Endpoint, role: string): Promise<void> {
  const expected = MIGRATIONS.map(([name]) => name);
  let applied: string[];
  try {
    applied = await endpoint.db.snapshot(async (tx) => {
      const { rows } = await sql<{ name: string }>`select name from aurora_migration order by name`.execute(tx);
      return rows.map((r) => r.name);
    });
  } catch (cause) {
    throw new MoveError(`${role} ${endpoint.source}: its database has no Aurora schema (no migration table): is this the right config?`, { cause });
  }
  const unknown = applied.filter((name) => !expected.includes(name));
  if (unknown.length > 0) {
    throw new MoveError(`${role} ${endpoint.source}: its database was migrated by a newer Aurora (${unknown.join(", ")} unknown here): move with that version`);
  }
  const pending = expected.filter((name) => !applied.includes(name));
  if (pending.length > 0) {
    throw new MoveError(
      `${role} ${endpoint.source}: its database is not at the latest migration (${pending.join(", ")} pending); ` +
        "the move never migrates its source: run `aurora migrate run --config <it>` (or start its server once with this version), then move",
    );
  }
}

/**
 * Refuse a pair of configs the moved data could not be served from: signing
 * keys are sealed under the PLC rotation key and sessions are signed with the
 * JWT secret, so both must be the same on the target.
 */
export function assertSameSecrets(from: Endpoint, to: Endpoint): void {
  const differ: string[] = [];
  if (from.config.secrets.plcRotationKeyHex !== to.config.secrets.plcRotationKeyHex) {
    differ.push("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX (signing keys are sealed under it)");
  }
  if (from.config.secrets.jwtSecret !== to.config.secrets.jwtSecret) differ.push("PDS_JWT_SECRET (sessions are signed with it)");
  if (differ.length > 0) {
    throw new MoveError(
      `the target config's secrets differ from the source's: ${differ.join("; ")}. Give the target the same values ` +
        "(in dev mode, copy the source data directory's secrets.json into the target's)",
    );
  }
}

/**
 * Which backends the two sides share: the same plugin with the same settings
 * and, unless it is a shared service (PostgreSQL, S3), the same data
 * directory its relative paths live under. A move of one kind only keeps the other, and
 * a shared one is not copied onto itself. Best effort (two spellings of one
 * path look different); a copy onto itself changes nothing anyway.
 */
export function sameBackends(from: Endpoint, to: Endpoint): { db: boolean; blobs: boolean } {
  type Side = { name: string; shared: boolean; describe(): unknown };
  const same = (a: Side, b: Side) =>
    a.name === b.name &&
    JSON.stringify(a.describe()) === JSON.stringify(b.describe()) &&
    (a.shared || from.config.dataDir === to.config.dataDir);
  return { db: same(from.db, to.db), blobs: same(from.blobs, to.blobs) };
}
