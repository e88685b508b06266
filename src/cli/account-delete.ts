import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, adminTarget } from "./admin-client";
import { didArg } from "./admin-args";
import { printJson } from "./admin-output";
import { confirm } from "./confirm";
import { UsageError } from "./usage-error";

export const ACCOUNT_DELETE_OPTIONS: NonNullable<ParseArgsConfig["options"]> = { ...ADMIN_OPTIONS, yes: { type: "boolean", short: "y" } };

export const ACCOUNT_DELETE_HELP = `Deletes the account, its repository and blobs for good. Asks first on a terminal.

Options:
  --yes, -y               do not ask (required when stdin is not a terminal)
${ADMIN_HELP}`;

/**
 * `aurora account delete <did>`: com.atproto.admin.deleteAccount after a
 * yes on the terminal, or with --yes; without a terminal and without --yes it
 * refuses rather than guess.
 */
export async function accountDelete(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const did = didArg(args[0]);
  if (!flags.yes && !process.stdin.isTTY) throw new UsageError("refusing to delete without --yes: stdin is not a terminal to confirm on");
  const { client } = await adminTarget(flags);
  if (!flags.yes) {
    process.stderr.write(`This permanently deletes ${did} from ${client.url}: repository, records, blobs.\n`);
    if (!(await confirm(`Delete ${did}?`))) {
      process.stderr.write("not deleted\n");
      return 1;
    }
  }
  await client.procedure("com.atproto.admin.deleteAccount", { did }, { admin: true });
  if (flags.json) return printJson({ did, deleted: true });
  process.stdout.write(`${did} deleted\n`);
  return 0;
}
