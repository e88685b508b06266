import type { ParseArgsConfig } from "node:util";
import { openRestoreSource } from "@/move/backup-location";
import { openEndpoint } from "@/move/endpoint";
import { createProgress } from "@/move/progress";
import { restore } from "@/move/restore";
import { concurrencyFlag, reportFailure } from "./backup";
import { UsageError } from "./usage-error";

export const RESTORE_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  from: { type: "string" },
  force: { type: "boolean" },
  "s3-endpoint": { type: "string" },
  "blob-concurrency": { type: "string" },
};

export const RESTORE_HELP = `Options:
  --from DIR[/SNAPSHOT]  a backup directory (its newest backup) or one snapshot in it
  --from s3://BUCKET/PREFIX[/snapshots/SNAPSHOT]
                         the same in S3 (connection as for aurora backup)
  --s3-endpoint URL      S3-compatible endpoint for an s3:// --from
  --blob-concurrency N   blobs streamed at once (default 4)
  --config FILE          the config to restore into (its database and blob store)
  --force                the target holds data: back it up into the same
                         directory or prefix as pre-restore-<time> first,
                         then replace it

Before anything is written the backup is checked: the manifest's checksum, the
database file's SHA-256, the blob list and every blob file, the database's
counts and repository roots against the manifest, and that the target has the
PLC rotation key the signing keys are sealed under. After the copy, every
table's row count, every repository's root, rev and record count and every
blob are compared with the backup; any difference exits 1.
An S3 snapshot's database is downloaded into $TMPDIR (streamed) and checked
there; its blobs are read from the bucket, and hash-checked, as they are copied.
Stop the server of the target config while it restores.
`;

/** `aurora restore --from DIR[/SNAPSHOT]|s3://... [--config FILE] [--force]`: exit 0 only when the restored server matches the backup. */
export async function restoreCommand(flags: { config?: string; from?: unknown; force?: unknown; "s3-endpoint"?: unknown; "blob-concurrency"?: unknown }): Promise<number> {
  if (typeof flags.from !== "string" || flags.from === "") throw new UsageError("--from is required: a backup directory or s3://bucket/prefix, or a snapshot in one");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(flags.from) && !/^s3:\/\//i.test(flags.from)) {
    throw new UsageError(`--from ${flags.from}: give a directory or s3://bucket/prefix`);
  }
  const from = flags.from;
  const blobConcurrency = concurrencyFlag(flags["blob-concurrency"]);
  const s3Endpoint = typeof flags["s3-endpoint"] === "string" ? flags["s3-endpoint"] : undefined;
  const progress = createProgress(process.stderr);
  return reportFailure(async () => {
    const { location, snapshot } = await openRestoreSource(from, { s3Endpoint });
    const target = await openEndpoint(flags.config, { migrate: false }).catch((err: unknown) => {
      location.close();
      throw err;
    });
    try {
      const result = await restore(target, { location, snapshot, force: flags.force === true, progress, blobConcurrency });
      if (result.preRestore) process.stdout.write(`pre-restore backup of the target: ${result.preRestore.dir}\n`);
      const m = result.manifest;
      if (result.mismatches.length > 0) {
        process.stderr.write(`aurora: restore of ${result.snapshot} does not match the backup:\n`);
        for (const line of result.mismatches) process.stderr.write(`  ${line}\n`);
        return 1;
      }
      process.stdout.write(`restored ${result.snapshot} (made ${m.createdAt} by Aurora ${m.auroraVersion}): ${m.repos.length} repos, ${m.blobs.count} blobs, verified\n`);
      return 0;
    } finally {
      await target.close();
      location.close();
    }
  });
}
