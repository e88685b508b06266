import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { sql } from "kysely";
import type { DatabasePlugin } from "@/contracts/db";
import { migrationStatus } from "@/db/migrator";
import type { TableName } from "@/db/schema";
import { writeSynced } from "./durable-fs";

/** File names inside one snapshot directory. */
export const MANIFEST_FILE = "manifest.json";
export const DATABASE_FILE = "aurora.sqlite";
export const BLOB_LIST_FILE = "blobs.txt";
export const MANIFEST_FORMAT = "aurora-backup/1";

const Repo = Type.Object({ did: Type.String(), root: Type.String(), rev: Type.String(), records: Type.Integer({ minimum: 0 }) });

const ManifestSchema = Type.Object({
  format: Type.Literal(MANIFEST_FORMAT),
  name: Type.String(),
  createdAt: Type.String(),
  auroraVersion: Type.String(),
  /** The source's plugins, for the reader's information. */
  source: Type.Object({ db: Type.String(), blobs: Type.String() }),
  /**
   * Fingerprint of the PLC rotation key the accounts' signing keys are sealed
   * under (rotationKeyFingerprint): restore refuses a target with another key.
   */
  rotationKey: Type.String(),
  /** The newest migration applied to the snapshot's database (null: none). */
  migration: Type.Union([Type.String(), Type.Null()]),
  database: Type.Object({ file: Type.Literal(DATABASE_FILE), sha256: Type.String(), bytes: Type.Integer({ minimum: 0 }) }),
  tables: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  repos: Type.Array(Repo),
  /** blobs.txt lists `<cid> <size>` per line, sorted by CID; its hash is here. */
  blobs: Type.Object({
    file: Type.Literal(BLOB_LIST_FILE),
    sha256: Type.String(),
    count: Type.Integer({ minimum: 0 }),
    bytes: Type.Integer({ minimum: 0 }),
    /**
     * CIDs the database names whose bytes the source store did not have,
     * served or quarantined: blobs lost, or deleted while the backup ran. Not
     * in blobs.txt. (Taken-down blobs are stored and listed like the rest;
     * backups made before Aurora copied quarantined bytes list them here.)
     */
    missing: Type.Array(Type.String()),
  }),
  /** SHA-256 of this JSON written without this field: an edited manifest is caught. */
  checksum: Type.String(),
});

/** What `manifest.json` of a backup snapshot says (format aurora-backup/1). */
export type Manifest = Static<typeof ManifestSchema>;
/** A repository as the manifest records it. */
export type RepoSummary = Static<typeof Repo>;
/** One line of blobs.txt. */
export interface BlobEntry {
  cid: string;
  size: number;
}

/** A backup that fails a check: restore stops with this message before writing anything. */
export class BackupCorruptError extends Error {
  constructor(
    readonly snapshot: string,
    message: string,
  ) {
    super(`backup ${snapshot} cannot be trusted: ${message}`);
    this.name = "BackupCorruptError";
  }
}

/** What a snapshot's database holds, as the manifest records it (and restore re-reads to compare). */
export interface DatabaseSummary {
  migration: string | null;
  tables: Record<string, number>;
  repos: RepoSummary[];
  blobs: BlobEntry[];
}

/**
 * Read the summary of a database: row counts of `tables`, each repository's
 * root, rev and record count, the permanent blobs (one entry per CID) and the
 * newest applied migration.
 */
export async function summarise(plugin: DatabasePlugin, tables: readonly TableName[]): Promise<DatabaseSummary> {
  const db = plugin.db();
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  const roots = await db.selectFrom("repo_root").select(["did", "cid", "rev"]).orderBy("did").execute();
  const recordCounts = await db
    .selectFrom("record")
    .select(["did", (eb) => eb.fn.countAll<number | string>().as("n")])
    .groupBy("did")
    .execute();
  const records = new Map(recordCounts.map((r) => [r.did, Number(r.n)]));
  const blobs = await db
    .selectFrom("blob")
    .select(["cid", sql<number>`max(size)`.as("size")])
    .where("temp_key", "is", null)
    .groupBy("cid")
    .orderBy("cid")
    .execute();
  const applied = (await migrationStatus(plugin)).filter((m) => m.appliedAt !== null);
  return {
    migration: applied[applied.length - 1]?.name ?? null,
    tables: counts,
    repos: roots.map((r) => ({ did: r.did, root: r.cid, rev: r.rev, records: records.get(r.did) ?? 0 })),
    blobs: blobs.map((b) => ({ cid: b.cid, size: Number(b.size) })),
  };
}

/** Where summary `actual` differs from `expected`, one line per difference (empty: they agree). */
export function compareSummaries(expected: Omit<DatabaseSummary, "blobs">, actual: Omit<DatabaseSummary, "blobs">): string[] {
  const out: string[] = [];
  if (expected.migration !== actual.migration) out.push(`migration level ${actual.migration} (manifest: ${expected.migration})`);
  for (const [table, n] of Object.entries(expected.tables)) {
    if (actual.tables[table] !== n) out.push(`table ${table}: ${actual.tables[table] ?? "missing"} rows (manifest: ${n})`);
  }
  const repos = new Map(actual.repos.map((r) => [r.did, r]));
  for (const repo of expected.repos) {
    const got = repos.get(repo.did);
    if (!got) out.push(`repo ${repo.did} missing`);
    else if (got.root !== repo.root || got.rev !== repo.rev || got.records !== repo.records) {
      out.push(`repo ${repo.did}: root ${got.root} rev ${got.rev} ${got.records} records (manifest: ${repo.root} ${repo.rev} ${repo.records})`);
    }
  }
  if (actual.repos.length !== expected.repos.length) out.push(`${actual.repos.length} repos (manifest: ${expected.repos.length})`);
  return out;
}

/** blobs.txt's text for `blobs` (sorted by CID, one `<cid> <size>` per line). */
export function blobListText(blobs: readonly BlobEntry[]): string {
  return blobs.map((b) => `${b.cid} ${b.size}\n`).join("");
}

/** Parse blobs.txt; a malformed line is a corrupt backup. */
export function parseBlobList(snapshot: string, text: string): BlobEntry[] {
  const out: BlobEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const match = /^(\S+) (\d+)$/.exec(line);
    if (!match) throw new BackupCorruptError(snapshot, `${BLOB_LIST_FILE} has a malformed line ${JSON.stringify(line.slice(0, 80))}`);
    out.push({ cid: match[1]!, size: Number(match[2]) });
  }
  return out;
}

/**
 * A short, one-way fingerprint of a PLC rotation key (64 hex, 256 random
 * bits: its hash reveals nothing usable), so a backup can say which key its
 * sealed signing keys need without holding the key.
 */
export function rotationKeyFingerprint(keyHex: string): string {
  return sha256Hex(`aurora backup rotation key\n${keyHex.toLowerCase()}`).slice(0, 16);
}

/** Hex SHA-256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Write `manifest` (its checksum computed here) into snapshot directory `dir`, synced. */
export async function writeManifest(dir: string, manifest: Omit<Manifest, "checksum">): Promise<Manifest> {
  const checksum = sha256Hex(JSON.stringify(manifest));
  const full = { ...manifest, checksum };
  await writeSynced(join(dir, MANIFEST_FILE), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

/**
 * Read and check the manifest of snapshot directory `dir`: valid JSON of
 * format aurora-backup/1 whose checksum matches. Throws BackupCorruptError.
 */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), "utf8");
  } catch (err) {
    throw new BackupCorruptError(dir, `cannot read ${MANIFEST_FILE}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BackupCorruptError(dir, `${MANIFEST_FILE} is not JSON: ${(err as Error).message}`);
  }
  if (!Value.Check(ManifestSchema, parsed)) {
    const first = Value.Errors(ManifestSchema, parsed).First();
    throw new BackupCorruptError(dir, `${MANIFEST_FILE} is not an aurora-backup/1 manifest (${first?.path || "/"}: ${first?.message})`);
  }
  const { checksum, ...rest } = parsed;
  if (sha256Hex(JSON.stringify(rest)) !== checksum) {
    throw new BackupCorruptError(dir, `${MANIFEST_FILE} was edited after the backup wrote it (its checksum does not match)`);
  }
  return parsed;
}
