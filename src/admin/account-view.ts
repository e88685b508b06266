import { sql } from "kysely";
import type { InviteCodeView } from "@/account/invites";
import type { AccountRow } from "@/account/store";
import type { Db } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import { inBatches } from "@/util/in-batches";
import { inviteCodesOf, invitedBy } from "./invites";

/**
 * com.atproto.admin.defs#accountView as the reference PDS fills it. It sets
 * no relatedRecords, inviteNote or threatSignatures (those come from a
 * moderation service's own data), and neither do we.
 */
export interface AccountView {
  did: string;
  /** `handle.invalid` while the account has no valid handle. */
  handle: string;
  email?: string;
  /** When the account was created here. */
  indexedAt: string;
  invitedBy?: InviteCodeView;
  invites: InviteCodeView[];
  invitesDisabled: boolean;
  emailConfirmedAt?: string;
  deactivatedAt?: string;
}

/** What searchAccounts returns: a page of views and the cursor for the next one. */
export interface AccountPage {
  accounts: AccountView[];
  cursor?: string;
}

async function viewsOf(db: Db, rows: readonly AccountRow[]): Promise<AccountView[]> {
  const dids = rows.map((r) => r.did);
  const [invites, inviters] = await Promise.all([inviteCodesOf(db, dids), invitedBy(db, dids)]);
  return rows.map((r) => {
    const inviter = inviters.get(r.did);
    return {
      did: r.did,
      handle: r.handle ?? "handle.invalid",
      ...(r.email ? { email: r.email } : {}),
      indexedAt: r.created_at,
      ...(inviter ? { invitedBy: inviter } : {}),
      invites: invites.get(r.did) ?? [],
      invitesDisabled: r.invites_disabled === 1,
      ...(r.email_confirmed_at ? { emailConfirmedAt: r.email_confirmed_at } : {}),
      ...(r.deactivated_at ? { deactivatedAt: r.deactivated_at } : {}),
    };
  });
}

/** One hosted account, whatever its status; 400 NotFound (the reference's name) when it is not hosted here. */
export async function accountView(db: Db, did: string): Promise<AccountView> {
  const row = await db.selectFrom("account").selectAll().where("did", "=", did).executeTakeFirst();
  if (!row) throw new InvalidRequestError("Account not found", "NotFound");
  return (await viewsOf(db, [row]))[0]!;
}

/** The hosted accounts among `dids`, in the order asked; DIDs not hosted here are left out. */
export async function accountViews(db: Db, dids: readonly string[]): Promise<AccountView[]> {
  const rows: AccountRow[] = [];
  await inBatches([...new Set(dids)], async (batch) => {
    rows.push(...(await db.selectFrom("account").selectAll().where("did", "in", batch).execute()));
  });
  const order = new Map(dids.map((did, i) => [did, i]));
  rows.sort((a, b) => order.get(a.did)! - order.get(b.did)!);
  return viewsOf(db, rows);
}

/** `%`, `_` and the escape character itself taken literally in a LIKE pattern. */
const likePrefix = (s: string) => `${s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Accounts whose email (and/or handle) starts with the given text, case
 * insensitively; with neither, every account. Ordered by DID, the cursor
 * is the page's last DID.
 */
export async function searchAccounts(db: Db, opts: { email?: string; handle?: string; cursor?: string; limit: number }): Promise<AccountPage> {
  let query = db.selectFrom("account").selectAll();
  if (opts.email) query = query.where(sql<boolean>`lower(email) like ${likePrefix(opts.email)} escape '\\'`);
  if (opts.handle) query = query.where(sql<boolean>`lower(handle) like ${likePrefix(opts.handle)} escape '\\'`);
  if (opts.cursor) query = query.where("did", ">", opts.cursor);
  const rows = await query.orderBy("did", "asc").limit(opts.limit).execute();
  const accounts = await viewsOf(db, rows);
  return rows.length === opts.limit ? { accounts, cursor: rows.at(-1)!.did } : { accounts };
}
