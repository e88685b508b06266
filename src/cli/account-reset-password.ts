import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, adminTarget } from "./admin-client";
import { didArg } from "./admin-args";
import { printJson } from "./admin-output";
import { generatePassword } from "./generate-password";

export const ACCOUNT_RESET_PASSWORD_OPTIONS: NonNullable<ParseArgsConfig["options"]> = ADMIN_OPTIONS;
export const ACCOUNT_RESET_PASSWORD_HELP = `Sets a generated password and prints it once; give it to the user by a safe channel.

${ADMIN_HELP}`;

/** `aurora account reset-password <did>`: com.atproto.admin.updateAccountPassword with a generated password, printed once. */
export async function accountResetPassword(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const did = didArg(args[0]);
  const { client } = await adminTarget(flags);
  const password = generatePassword();
  await client.procedure("com.atproto.admin.updateAccountPassword", { did, password }, { admin: true });
  if (flags.json) return printJson({ did, password });
  process.stdout.write(`Password reset for ${did}\nNew password : ${password}\nSave it now: it is not shown again.\n`);
  return 0;
}
