import { randomInt } from "node:crypto";
import type { Db, DbTransaction } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import { inBatches } from "@/util/in-batches";

/** com.atproto.server.defs#inviteCode */
export interface InviteCodeView {
  code: string;
  available: number;
  disabled: boolean;
  forAccount: string;
  createdBy: string;
  createdAt: string;
  uses: { usedBy: string; usedAt: string }[];
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** `<hostname with dashes>-xxxxx-xxxxx`: reads as a code, not a link. */
export function generateInviteCode(hostname: string): string {
  const part = () => Array.from({ length: 5 }, () => BASE32[randomInt(BASE32.length)]).join("");
  return `${hostname.replaceAll(".", "-")}-${part()}-${part()}`;
}

/** Make `codeCount` codes of `useCount` uses for each account (or `admin`); returns them by account. */
export async function createInviteCodes(
  db: Db,
  opts: { hostname: string; forAccounts: readonly string[]; codeCount: number; useCount: number; createdBy: string },
): Promise<{ account: string; codes: string[] }[]> {
  const createdAt = new Date().toISOString();
  const byAccount = opts.forAccounts.map((account) => ({
    account,
    codes: Array.from({ length: opts.codeCount }, () => generateInviteCode(opts.hostname)),
  }));
  const rows = byAccount.flatMap(({ account, codes }) =>
    codes.map((code) => ({ code, available_uses: opts.useCount, for_account: account, created_by: opts.createdBy, created_at: createdAt })),
  );
  await inBatches(rows, (chunk) => db.insertInto("invite_code").values(chunk).execute());
  return byAccount;
}

/** 400 InvalidInviteCode unless the code exists, is enabled, has a use left and its owner is not taken down. */
export async function assertInviteAvailable(q: Db | DbTransaction, code: string): Promise<void> {
  const unavailable = () => new InvalidRequestError("Provided invite code not available", "InvalidInviteCode");
  const invite = await q.selectFrom("invite_code").selectAll().where("code", "=", code).executeTakeFirst();
  if (!invite || invite.disabled) throw unavailable();
  if (invite.for_account !== "admin") {
    const owner = await q.selectFrom("account").select("takedown_ref").where("did", "=", invite.for_account).executeTakeFirst();
    if (owner?.takedown_ref) throw unavailable();
  }
  const used = await q
    .selectFrom("invite_code_use")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("code", "=", code)
    .executeTakeFirstOrThrow();
  if (Number(used.n) >= invite.available_uses) throw unavailable();
}

/**
 * Use one of the code's uses for `did`, inside the account-creating
 * transaction. The caller holds the lock named after the code, so two
 * sign-ups on any nodes cannot both take its last use.
 */
export async function consumeInvite(tx: DbTransaction, code: string, did: string): Promise<void> {
  await assertInviteAvailable(tx, code);
  await tx.insertInto("invite_code_use").values({ code, used_by: did, used_at: new Date().toISOString() }).execute();
}

/** Codes made for `did`, with their uses, newest first. */
export async function accountInviteCodes(db: Db, did: string): Promise<InviteCodeView[]> {
  const codes = await db.selectFrom("invite_code").selectAll().where("for_account", "=", did).orderBy("created_at", "desc").execute();
  if (codes.length === 0) return [];
  const uses = await db
    .selectFrom("invite_code_use")
    .selectAll()
    .where("code", "in", codes.map((c) => c.code))
    .orderBy("used_at", "desc")
    .execute();
  return codes.map((c) => ({
    code: c.code,
    available: c.available_uses,
    disabled: c.disabled === 1,
    forAccount: c.for_account,
    createdBy: c.created_by,
    createdAt: c.created_at,
    uses: uses.filter((u) => u.code === c.code).map((u) => ({ usedBy: u.used_by, usedAt: u.used_at })),
  }));
}
