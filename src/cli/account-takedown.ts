import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, adminTarget } from "./admin-client";
import { didArg } from "./admin-args";
import { printJson } from "./admin-output";

export const ACCOUNT_TAKEDOWN_OPTIONS: NonNullable<ParseArgsConfig["options"]> = { ...ADMIN_OPTIONS, ref: { type: "string" } };

export const ACCOUNT_TAKEDOWN_HELP = `The repository, records and blobs stop being served and sessions are refused.

Options:
  --ref R                 the takedown reference kept with it, e.g. a ticket
                          (default: the current Unix time, as pdsadmin does)
${ADMIN_HELP}`;

export const ACCOUNT_UNTAKEDOWN_OPTIONS: NonNullable<ParseArgsConfig["options"]> = ADMIN_OPTIONS;
export const ACCOUNT_UNTAKEDOWN_HELP = ADMIN_HELP;

/** `aurora account takedown <did>`: com.atproto.admin.updateSubjectStatus on the account's repoRef, takedown applied. */
export function accountTakedown(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const ref = (flags.ref as string | undefined) ?? String(Math.floor(Date.now() / 1000));
  return setTakedown(flags, didArg(args[0]), { applied: true, ref });
}

/** `aurora account untakedown <did>`: the same call with the takedown lifted. */
export function accountUntakedown(flags: Record<string, unknown>, args: string[]): Promise<number> {
  return setTakedown(flags, didArg(args[0]), { applied: false });
}

async function setTakedown(flags: Record<string, unknown>, did: string, takedown: { applied: boolean; ref?: string }): Promise<number> {
  const { client } = await adminTarget(flags);
  const result = await client.procedure<unknown>(
    "com.atproto.admin.updateSubjectStatus",
    { subject: { $type: "com.atproto.admin.defs#repoRef", did }, takedown },
    { admin: true },
  );
  if (flags.json) return printJson(result ?? { subject: { $type: "com.atproto.admin.defs#repoRef", did }, takedown });
  process.stdout.write(takedown.applied ? `${did} taken down (ref ${takedown.ref})\n` : `${did} takedown lifted\n`);
  return 0;
}
