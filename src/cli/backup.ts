import type { ParseArgsConfig } from "node:util";
import { backup } from "@/move/backup";
import { openBackupLocation } from "@/move/backup-location";
import { openEndpoint } from "@/move/endpoint";
import { createProgress } from "@/move/progress";
import { BackupCorruptError } from "@/move/manifest";
import { MoveError } from "@/move/errors";
import { PluginError } from "@/errors";
import { UsageError } from "./usage-error";

export const BACKUP_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  out: { type: "string" },
  keep: { type: "string" },
  "s3-endpoint": { type: "string" },
  "blob-concurrency": { type: "string" },
};

export const BACKUP_HELP = `Options:
  --out DIR|s3://BUCKET/PREFIX
                   where backups go (default ./backups); a directory is
                   created when missing, a bucket must exist
  --keep N         keep the newest N backups, delete older ones and the blobs
                   no remaining snapshot needs (pre-restore snapshots are kept)
  --config FILE    the server's config (the source)
  --s3-endpoint URL  S3-compatible endpoint (MinIO, R2...) for an s3:// --out
  --blob-concurrency N  blobs streamed at once (default 4; 1 for s3rver)

A backup is one consistent snapshot: the whole database read in one
transaction (REPEATABLE READ on PostgreSQL) and written through the database
contract into a SQLite file, whatever the backend; blobs go into a
content-addressed store shared by every snapshot of DIR, so each backup adds
only new blobs. The server may keep running. Each snapshot DIR/<time>/ holds
manifest.json (counts, hashes, repo roots), aurora.sqlite and blobs.txt.

In S3 the same files are PREFIX/snapshots/<time>/..., blobs PREFIX/blobs/<cid>
(uploaded only when new), the manifest uploaded last; one backup or restore
at a time (PREFIX/lock). The snapshot is built in $TMPDIR first. Connection:
AURORA_BACKUP_S3_{ENDPOINT,REGION,ACCESS_KEY_ID,SECRET_ACCESS_KEY,
FORCE_PATH_STYLE,CHECKSUMS}, each falling back to PDS_BLOBSTORE_S3_<same>,
then to the AWS SDK's own chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, a role).

Example (cron, 03:17 daily, two weeks kept):
  17 3 * * * cd /srv/aurora && ./aurora backup --out /var/backups/aurora --keep 14
`;

/** `aurora backup [--out DIR|s3://BUCKET/PREFIX] [--keep N]`: snapshot the configured server there; exit 1 on failure. */
export async function backupCommand(flags: { config?: string; out?: unknown; keep?: unknown; "s3-endpoint"?: unknown; "blob-concurrency"?: unknown }): Promise<number> {
  const out = typeof flags.out === "string" ? flags.out : "backups";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(out) && !/^s3:\/\//i.test(out)) {
    throw new UsageError(`--out ${out}: give a directory or s3://bucket/prefix`);
  }
  const blobConcurrency = concurrencyFlag(flags["blob-concurrency"]);
  const s3Endpoint = typeof flags["s3-endpoint"] === "string" ? flags["s3-endpoint"] : undefined;
  let keep: number | undefined;
  if (flags.keep !== undefined) {
    keep = Number(flags.keep);
    if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`--keep ${String(flags.keep)}: give a whole number of backups, at least 1`);
  }
  const progress = createProgress(process.stderr);
  return reportFailure(async () => {
    const location = openBackupLocation(out, { s3Endpoint });
    const source = await openEndpoint(flags.config, { migrate: false }).catch((err: unknown) => {
      location.close();
      throw err;
    });
    try {
      const result = await backup(source, { location, keep, progress, blobConcurrency });
      const m = result.manifest;
      const accounts = m.tables.account ?? 0;
      process.stdout.write(
        `backup ${result.dir}: ${accounts} accounts, ${m.repos.length} repos, ${m.blobs.count} blobs ` +
          `(${result.newBlobs} new), database ${m.database.bytes} bytes sha256 ${m.database.sha256}\n`,
      );
      const r = result.retention;
      if (r) {
        process.stdout.write(`retention: kept ${keep}, deleted ${r.deletedSnapshots.length} snapshots ${r.deletedSnapshots.join(" ")} and ${r.deletedBlobs} blobs\n`);
        if (r.skippedBlobSweep) process.stderr.write(`aurora: blobs not swept: ${r.skippedBlobSweep}\n`);
      }
      return 0;
    } finally {
      await source.close();
      location.close();
    }
  });
}

/** `--blob-concurrency N` of backup and restore: undefined (the default) or 1 to 64. */
export function concurrencyFlag(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError("--blob-concurrency must be an integer from 1 to 64");
  return n;
}

/**
 * Run a backup or restore command: a failure the operator can act on
 * (MoveError, a corrupt backup, a backend's PluginError, a filesystem error
 * with a code) is one line on stderr and exit 1; anything else is a bug and
 * keeps its stack.
 */
export async function reportFailure(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    const known = err instanceof MoveError || err instanceof BackupCorruptError || err instanceof PluginError || typeof (err as NodeJS.ErrnoException).code === "string";
    if (!known) throw err;
    process.stderr.write(`aurora: ${(err as Error).message.replace(/^\[aurora\] /, "")}\n`);
    return 1;
  }
}
