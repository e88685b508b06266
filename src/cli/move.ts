import type { ParseArgsConfig } from "node:util";
import { PluginError } from "@/errors";
import { copyAll, type StageReport } from "@/move/copy";
import { migrateToLatest } from "@/db/migrator";
import { assertLatestSchema, assertSameSecrets, type Endpoint, openEndpoint, sameBackends } from "@/move/endpoint";
import { MoveError, MoveInterrupted } from "@/move/errors";
import { createProgress } from "@/move/progress";
import { verifyCopy } from "@/move/verify";
import { UsageError } from "./usage-error";

export const MOVE_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  from: { type: "string" },
  to: { type: "string" },
  resume: { type: "boolean" },
  verify: { type: "boolean" },
  "batch-rows": { type: "string" },
  "blob-concurrency": { type: "string" },
};

export const MOVE_HELP = `Copies every table (accounts with their sealed keys, repositories, records,
sessions, app passwords, invites, preferences, OAuth state, the admin log, the
event sequence with its numbers) and every blob's bytes from the --from
config's database and blob store to the --to config's. Stop the server first.
The source is only read; the target is migrated to the latest schema first and
must be empty. A backend both configs share is left where it is.

Options:
  --from FILE             the config the data is in now (required)
  --to FILE               the config to move it to (required)
  --resume                continue an interrupted move into the same target
  --verify                afterwards compare every table's row count, every repo's
                          root, rev and record count, every blob's bytes against
                          its CID; exit 1 on a mismatch
  --batch-rows N          rows per page and target transaction (default 500)
  --blob-concurrency N    blobs streamed at once (default 4)

Exit codes: 0 moved (and verified), 1 refused, failed or mismatched,
130 interrupted (run again with --resume).

Example:
  aurora move --from aurora.config.ts --to prod.ts --verify
`;

/** `aurora move`: the whole copy, with a progress bar on a terminal and log lines otherwise. */
export async function move(flags: Record<string, unknown>): Promise<number> {
  const { from: fromFile, to: toFile } = flags;
  if (typeof fromFile !== "string" || typeof toFile !== "string") throw new UsageError("--from FILE and --to FILE are both required");
  const batchRows = flags["batch-rows"] === undefined ? undefined : Number(flags["batch-rows"]);
  if (batchRows !== undefined && !(Number.isInteger(batchRows) && batchRows >= 1 && batchRows <= 10_000)) {
    throw new UsageError("--batch-rows must be an integer from 1 to 10000");
  }
  const blobConcurrency = flags["blob-concurrency"] === undefined ? undefined : Number(flags["blob-concurrency"]);
  if (blobConcurrency !== undefined && !(Number.isInteger(blobConcurrency) && blobConcurrency >= 1 && blobConcurrency <= 64)) {
    throw new UsageError("--blob-concurrency must be an integer from 1 to 64");
  }
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write("aurora move: stopping after the current page (Ctrl-C again to stop at once)\n");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  const opened: Endpoint[] = [];
  try {
    const from = await openEndpoint(fromFile, { migrate: false });
    opened.push(from);
    await assertLatestSchema(from, "source");
    const to = await openEndpoint(toFile, { migrate: false });
    opened.push(to);
    assertSameSecrets(from, to);
    // A database both configs share is the source: it is neither migrated nor written.
    if (!sameBackends(from, to).db) await migrateToLatest(to.db);
    out(`aurora move: ${describe(from)} -> ${describe(to)}${flags.resume ? " (resuming)" : ""}`);
    const progress = createProgress(process.stdout);
    const started = performance.now();
    const reports = await copyAll(from, to, { resume: Boolean(flags.resume), progress, batchRows, blobConcurrency, signal: controller.signal });
    summarise(reports, performance.now() - started);
    if (!flags.verify) {
      out("move complete: switch the server's config to the target and start it");
      return 0;
    }
    const result = await verifyCopy(from, to, { progress });
    for (const note of result.notes) out(`note: ${note}`);
    if (!result.ok) {
      for (const line of result.mismatches) process.stderr.write(`mismatch: ${line}\n`);
      process.stderr.write(`aurora move: verification failed (${result.mismatches.length} mismatch${result.mismatches.length === 1 ? "" : "es"})\n`);
      return 1;
    }
    out(`verified: ${result.counts.repos} repos, ${result.counts.records} records, ${result.counts.blobs} blobs, ${result.counts.repo_seq} events`);
    out("move complete: switch the server's config to the target and start it");
    return 0;
  } catch (err) {
    if (err instanceof MoveInterrupted) {
      process.stderr.write(`\naurora move: ${err.message}\n`);
      return 130;
    }
    if (err instanceof MoveError || err instanceof PluginError) {
      process.stderr.write(`aurora move: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off("SIGINT", onSigint);
    for (const endpoint of opened) await endpoint.close();
  }
}

function summarise(reports: StageReport[], ms: number): void {
  const rows = reports.filter((r) => r.bytes === 0).reduce((n, r) => n + r.rows, 0);
  const bytes = reports.reduce((n, r) => n + r.bytes, 0);
  for (const note of reports.flatMap((r) => r.notes)) out(`note: ${note}`);
  out(`copied ${rows} rows and ${(bytes / 1024 / 1024).toFixed(1)} MiB of blobs in ${(ms / 1000).toFixed(1)}s`);
}

function describe(endpoint: Endpoint): string {
  return `${endpoint.db.name} + ${endpoint.blobs.name} (${endpoint.source})`;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}
