import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, adminTarget } from "./admin-client";
import { didArg, wholeNumber } from "./admin-args";
import { printJson } from "./admin-output";

export const INVITE_CREATE_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  ...ADMIN_OPTIONS,
  uses: { type: "string" },
  for: { type: "string" },
};

export const INVITE_CREATE_HELP = `Options:
  --uses N                how many sign-ups the code allows (default 1)
  --for DID               the account the code is credited to (default: the server)
${ADMIN_HELP}`;

/** `aurora invite create`: com.atproto.server.createInviteCode; prints the code alone (easy to capture in a script). */
export async function inviteCreate(flags: Record<string, unknown>): Promise<number> {
  const useCount = wholeNumber(flags.uses, "--uses", 1, 1_000_000) ?? 1;
  const forAccount = flags.for === undefined ? undefined : didArg(flags.for as string);
  const { client } = await adminTarget(flags);
  const { code } = await client.procedure<{ code: string }>(
    "com.atproto.server.createInviteCode",
    { useCount, ...(forAccount ? { forAccount } : {}) },
    { admin: true },
  );
  if (flags.json) return printJson({ code, useCount, ...(forAccount ? { forAccount } : {}) });
  process.stdout.write(`${code}\n`);
  return 0;
}
