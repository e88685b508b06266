import type { ParseArgsConfig } from "node:util";
import { openEndpoint } from "@/move/endpoint";
import { createProgress } from "@/move/progress";
import { restore } from "@/move/restore";
import { reportFailure } from "./backup";
import { UsageError } from "./usage-error";

export const RESTORE_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  from: { type: "string" },
  force: { type: "boolean" },
};

export const RESTORE_HELP = `Options:
  --from DIR[/SNAPSHOT]  a backup directory (its newest backup) or one snapshot in it
  --config FILE          the config to restore into (its database and blob store)
  --force                the target holds data: back it up into DIR as
                         pre-restore-<time> first, then replace it

Before anything is written the backup is checked: the manifest's checksum, the
database file's SHA-256, the blob list and every blob file, the database's
counts and repository roots against the manifest, and that the target has the
PLC rotation key the signing keys are sealed under. After the copy, every
table's row count, every repository's root, rev and record count and every
blob are compared with the backup; any difference exits 1.
Stop the server of the target config while it restores.
`;

/** `aurora restore --from DIR[/SNAPSHOT] [--config FILE] [--force]`: exit 0 only when the restored server matches the backup. */
export async function restoreCommand(flags: { config?: string; from?: unknown; force?: unknown }): Promise<number> {
  if (typeof flags.from !== "string" || flags.from === "") throw new UsageError("--from DIR is required: the backup directory or a snapshot in it");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(flags.from)) throw new UsageError(`--from ${flags.from}: only a directory is supported`);
  const from = flags.from;
  const progress = createProgress(process.stderr);
  return reportFailure(async () => {
    const target = await openEndpoint(flags.config, { migrate: false });
    try {
      const result = await restore(target, { from, force: flags.force === true, progress });
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
    }
  });
}
