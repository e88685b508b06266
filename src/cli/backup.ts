import type { ParseArgsConfig } from "node:util";
import { backup } from "@/move/backup";
import { openEndpoint } from "@/move/endpoint";
import { createProgress } from "@/move/progress";
import { BackupCorruptError } from "@/move/manifest";
import { MoveError } from "@/move/errors";
import { PluginError } from "@/errors";
import { UsageError } from "./usage-error";

export const BACKUP_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  out: { type: "string" },
  keep: { type: "string" },
};

export const BACKUP_HELP = `Options:
  --out DIR        backup directory (default ./backups); created when missing
  --keep N         keep the newest N backups, delete older ones and the blobs
                   no remaining snapshot needs (pre-restore snapshots are kept)
  --config FILE    the server's config (the source)

A backup is one consistent snapshot: the whole database read in one
transaction (REPEATABLE READ on PostgreSQL) and written through the database
contract into a SQLite file, whatever the backend; blobs go into a
content-addressed store shared by every snapshot of DIR, so each backup adds
only new blobs. The server may keep running. Each snapshot DIR/<time>/ holds
manifest.json (counts, hashes, repo roots), aurora.sqlite and blobs.txt.
s3:// destinations are not supported: back up to a directory and sync it
(aws s3 sync DIR s3://bucket/prefix; blobs never change, so it is incremental).

Example (cron, 03:17 daily, two weeks kept):
  17 3 * * * cd /srv/aurora && ./aurora backup --out /var/backups/aurora --keep 14
`;

/** `aurora backup [--out DIR] [--keep N]`: snapshot the configured server into DIR; exit 1 on failure. */
export async function backupCommand(flags: { config?: string; out?: unknown; keep?: unknown }): Promise<number> {
  const out = typeof flags.out === "string" ? flags.out : "backups";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(out)) {
    throw new UsageError(`--out ${out}: only a directory is supported; back up to one and sync it to object storage`);
  }
  let keep: number | undefined;
  if (flags.keep !== undefined) {
    keep = Number(flags.keep);
    if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`--keep ${String(flags.keep)}: give a whole number of backups, at least 1`);
  }
  const progress = createProgress(process.stderr);
  return reportFailure(async () => {
    const source = await openEndpoint(flags.config, { migrate: false });
    try {
      const result = await backup(source, { out, keep, progress });
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
    }
  });
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
