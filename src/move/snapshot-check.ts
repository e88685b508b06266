import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MIGRATIONS } from "@/db/migrations";
import type { TableName } from "@/db/schema";
import type { BackupLocation } from "./backup-location";
import { hashFile } from "./durable-fs";
import {
  BackupCorruptError,
  BLOB_LIST_FILE,
  type BlobEntry,
  compareSummaries,
  DATABASE_FILE,
  type Manifest,
  parseBlobList,
  readManifest,
  sha256Hex,
  summarise,
} from "./manifest";
import type { SnapshotEndpoint } from "./snapshot-endpoint";

/**
 * The checks a snapshot passes before restore writes anything, cheapest
 * first; each failure is a BackupCorruptError saying what is wrong.
 */

/**
 * The snapshot's files against its manifest: the manifest itself (format,
 * checksum), a migration level this version knows, the database file's
 * SHA-256, blobs.txt's SHA-256 and totals, and every listed blob present in
 * the location's shared store with its size. `dir` holds the snapshot's
 * files; `label` names the snapshot in messages (its address when `dir` is
 * a download). Resolves to the manifest and blob list.
 */
export async function checkSnapshotFiles(dir: string, location: BackupLocation, label = dir): Promise<{ manifest: Manifest; blobs: BlobEntry[] }> {
  const manifest = await readManifest(dir).catch((err: unknown) => {
    if (!(err instanceof BackupCorruptError) || label === dir) throw err;
    throw new BackupCorruptError(label, err.message.replace(`backup ${dir} cannot be trusted: `, ""));
  });
  const known = MIGRATIONS.map(([name]) => name);
  if (manifest.migration !== null && !known.includes(manifest.migration)) {
    throw new BackupCorruptError(label, `it was made by a newer Aurora (${manifest.auroraVersion}, migration ${manifest.migration}); restore it with that version`);
  }
  const database = await hashFile(join(dir, DATABASE_FILE)).catch((err: Error) => {
    throw new BackupCorruptError(label, `cannot read ${DATABASE_FILE}: ${err.message}`);
  });
  if (database.sha256 !== manifest.database.sha256 || database.bytes !== manifest.database.bytes) {
    throw new BackupCorruptError(label, `${DATABASE_FILE} has changed since the backup (SHA-256 ${database.sha256}, ${database.bytes} bytes; manifest: ${manifest.database.sha256}, ${manifest.database.bytes} bytes)`);
  }
  const text = await readFile(join(dir, BLOB_LIST_FILE), "utf8").catch((err: Error) => {
    throw new BackupCorruptError(label, `cannot read ${BLOB_LIST_FILE}: ${err.message}`);
  });
  if (sha256Hex(text) !== manifest.blobs.sha256) throw new BackupCorruptError(label, `${BLOB_LIST_FILE} has changed since the backup`);
  const blobs = parseBlobList(label, text);
  const bytes = blobs.reduce((sum, b) => sum + b.size, 0);
  if (blobs.length !== manifest.blobs.count || bytes !== manifest.blobs.bytes) {
    throw new BackupCorruptError(label, `${BLOB_LIST_FILE} lists ${blobs.length} blobs of ${bytes} bytes (manifest: ${manifest.blobs.count}, ${manifest.blobs.bytes})`);
  }
  const problems: string[] = [];
  for (const blob of blobs) {
    const size = await location.blobSize(blob.cid);
    if (size === null) problems.push(`blob ${blob.cid} is missing from ${location.url}`);
    else if (size !== blob.size) problems.push(`blob ${blob.cid} is ${size} bytes (listed: ${blob.size})`);
  }
  if (problems.length > 0) throw new BackupCorruptError(label, tooMany(problems));
  return { manifest, blobs };
}

/**
 * The snapshot's database (its working copy, before any migration) against
 * the manifest: row counts, every repository's root, rev and record count,
 * the migration level, and the blobs its blob table names against blobs.txt.
 */
export async function checkSnapshotDatabase(snapshot: SnapshotEndpoint, manifest: Manifest, blobs: readonly BlobEntry[]): Promise<void> {
  const dir = snapshot.source.replace(/^backup /, "");
  let summary: Awaited<ReturnType<typeof summarise>>;
  try {
    summary = await summarise(snapshot.db, Object.keys(manifest.tables) as TableName[]);
  } catch (err) {
    throw new BackupCorruptError(dir, `its database cannot be read: ${(err as Error).message}`);
  }
  const problems = compareSummaries(manifest, summary);
  const missing = new Set(manifest.blobs.missing);
  const named = summary.blobs.filter((b) => !missing.has(b.cid));
  const listed = blobs.map((b) => `${b.cid} ${b.size}`).join("\n");
  if (named.map((b) => `${b.cid} ${b.size}`).join("\n") !== listed || named.length + missing.size !== summary.blobs.length) {
    problems.push(`the database names ${summary.blobs.length} blobs, ${BLOB_LIST_FILE} ${blobs.length} and the manifest ${missing.size} missing`);
  }
  if (problems.length > 0) throw new BackupCorruptError(dir, `its database disagrees with the manifest: ${tooMany(problems)}`);
}

/** The first few problems, and how many more. */
export function tooMany(problems: readonly string[], shown = 5): string {
  const head = problems.slice(0, shown).join("; ");
  return problems.length > shown ? `${head}; and ${problems.length - shown} more` : head;
}
