import { isValidDid, isValidHandle } from "@atproto/syntax";
import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, type AdminClient, adminTarget } from "./admin-client";
import { fields, printJson } from "./admin-output";
import { UsageError } from "./usage-error";

export const ACCOUNT_INFO_OPTIONS: NonNullable<ParseArgsConfig["options"]> = ADMIN_OPTIONS;

export const ACCOUNT_INFO_HELP = `The account is named by its DID or its handle (resolved by the server).

${ADMIN_HELP}`;

/** com.atproto.server.defs#inviteCode, the fields shown. */
interface InviteCode {
  code: string;
  available: number;
  disabled: boolean;
  uses: unknown[];
}

/** com.atproto.admin.defs#accountView. */
interface AccountView {
  did: string;
  handle: string;
  email?: string;
  indexedAt: string;
  emailConfirmedAt?: string;
  deactivatedAt?: string;
  invitedBy?: InviteCode;
  invites?: InviteCode[];
  invitesDisabled?: boolean;
  inviteNote?: string;
}

/**
 * `aurora account info <did|handle>`: com.atproto.admin.getAccountInfo plus
 * the repository's hosting status (com.atproto.sync.getRepoStatus), which the
 * account view does not carry.
 */
export async function accountInfo(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const subject = args[0]!;
  if (!isValidDid(subject) && !isValidHandle(subject)) throw new UsageError(`"${subject}" is neither a DID nor a handle`);
  const { client } = await adminTarget(flags);
  const did = isValidDid(subject) ? subject : await resolve(client, subject);
  const account = await client.query<AccountView>("com.atproto.admin.getAccountInfo", { did }, { admin: true });
  const repo = await client.query<{ active: boolean; status?: string; rev?: string }>("com.atproto.sync.getRepoStatus", { did }, { admin: true });
  const status = repo.status ?? (repo.active ? "active" : "inactive");
  if (flags.json) return printJson({ ...account, active: repo.active, status, ...(repo.rev ? { rev: repo.rev } : {}) });
  const invites = account.invites ?? [];
  process.stdout.write(
    fields([
      ["DID", account.did],
      ["Handle", account.handle],
      ["Email", account.email && `${account.email} (${account.emailConfirmedAt ? `confirmed ${account.emailConfirmedAt}` : "not confirmed"})`],
      ["Status", status],
      ["Created", account.indexedAt],
      ["Deactivated", account.deactivatedAt],
      ["Repo rev", repo.rev],
      ["Invited by", account.invitedBy?.code],
      ["Invite codes", `${invites.length} (${invites.filter((c) => !c.disabled && c.available > c.uses.length).length} usable)${account.invitesDisabled ? ", invites disabled" : ""}`],
      ["Invite note", account.inviteNote],
    ]),
  );
  return 0;
}

async function resolve(client: AdminClient, handle: string): Promise<string> {
  const { did } = await client.query<{ did: string }>("com.atproto.identity.resolveHandle", { handle });
  return did;
}
