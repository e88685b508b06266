import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, adminTarget } from "./admin-client";
import { fields, printJson } from "./admin-output";
import { generatePassword } from "./generate-password";
import { UsageError } from "./usage-error";

export const ACCOUNT_CREATE_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  ...ADMIN_OPTIONS,
  password: { type: "string" },
  "invite-code": { type: "string" },
};

export const ACCOUNT_CREATE_HELP = `A handle without a dot gets the server's first handle domain (alice -> alice.example.com).

Options:
  --password P            the account's password (default: a generated one, printed once;
                          a password on the command line lands in shell history)
  --invite-code C         use this invite code (default: one created for this account when
                          the server requires invites)
${ADMIN_HELP}`;

/**
 * `aurora account create <email> <handle>`: com.atproto.server.createAccount,
 * with a single-use invite code made first (createInviteCode, admin) when the
 * server requires one, and a generated password printed once when none is given.
 */
export async function accountCreate(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const [email, given] = args as [string, string];
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError(`"${email}" is not an email address (the email comes first, then the handle)`);
  const { client } = await adminTarget(flags);
  const server = await client.query<{ inviteCodeRequired?: boolean; availableUserDomains: string[] }>("com.atproto.server.describeServer");
  const domain = server.availableUserDomains[0];
  const handle = given.includes(".") || !domain ? given : `${given}${domain.startsWith(".") ? "" : "."}${domain}`;
  const generated = flags.password === undefined ? generatePassword() : undefined;
  const password = (flags.password as string | undefined) ?? generated!;
  let inviteCode = flags["invite-code"] as string | undefined;
  if (inviteCode === undefined && server.inviteCodeRequired) {
    ({ code: inviteCode } = await client.procedure<{ code: string }>("com.atproto.server.createInviteCode", { useCount: 1 }, { admin: true }));
  }
  const created = await client.procedure<{ did: string; handle: string }>("com.atproto.server.createAccount", {
    email,
    handle,
    password,
    ...(inviteCode ? { inviteCode } : {}),
  });
  // The session tokens in the answer are the new user's, not the operator's: they are not shown.
  if (flags.json) return printJson({ did: created.did, handle: created.handle, email, ...(generated ? { password: generated } : {}) });
  process.stdout.write(
    `Account created\n${fields([
      ["Handle", created.handle],
      ["DID", created.did],
      ["Email", email],
      ["Password", generated],
    ])}`,
  );
  if (generated) process.stdout.write("Save this password now: it is not stored anywhere it can be shown again.\n");
  return 0;
}
