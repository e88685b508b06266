import type { InviteCodeView } from "@/account/invites";
import type { DatabasePlugin, Db } from "@/contracts/db";
import { InvalidRequestError } from "@/errors";
import { inBatches } from "@/util/in-batches";
import { logAdminAction } from "./log";

/** The two orders of com.atproto.admin.getInviteCodes. */
export type InviteCodeSort = "recent" | "usage";

/** One page of getInviteCodes. */
export interface InviteCodePage {
  codes: InviteCodeView[];
  cursor?: string;
}

/** Codes with a `uses` count column, so the usage order and its cursor can compare on it. */
function codesWithUseCounts(db: Db) {
  const inner = db.selectFrom("invite_code").select((eb) => [
    "invite_code.code as code",
    "invite_code.available_uses as available_uses",
    "invite_code.disabled as disabled",
    "invite_code.for_account as for_account",
    "invite_code.created_by as created_by",
    "invite_code.created_at as created_at",
    eb
      .selectFrom("invite_code_use")
      .select((u) => u.fn.countAll<number>().as("n"))
      .whereRef("invite_code_use.code", "=", "invite_code.code")
      .as("uses"),
  ]);
  return db.selectFrom(inner.as("c")).selectAll();
}

type CodeRow = { code: string; available_uses: number; disabled: number; for_account: string; created_by: string; created_at: string };

/** Rows → com.atproto.server.defs#inviteCode, each with its uses (newest first). */
async function withUses(db: Db, rows: readonly CodeRow[]): Promise<InviteCodeView[]> {
  const uses = new Map<string, { usedBy: string; usedAt: string }[]>();
  await inBatches(
    rows.map((r) => r.code),
    async (codes) => {
      const found = await db.selectFrom("invite_code_use").selectAll().where("code", "in", codes).orderBy("used_at", "desc").execute();
      for (const u of found) {
        const list = uses.get(u.code) ?? [];
        list.push({ usedBy: u.used_by, usedAt: u.used_at });
        uses.set(u.code, list);
      }
    },
  );
  return rows.map((r) => ({
    code: r.code,
    available: r.available_uses,
    disabled: Number(r.disabled) === 1,
    forAccount: r.for_account,
    createdBy: r.created_by,
    createdAt: r.created_at,
    uses: uses.get(r.code) ?? [],
  }));
}

/** The codes made for each of `dids` (newest first), by DID; accounts without codes are absent. */
export async function inviteCodesOf(db: Db, dids: readonly string[]): Promise<Map<string, InviteCodeView[]>> {
  const byAccount = new Map<string, InviteCodeView[]>();
  const rows: CodeRow[] = [];
  await inBatches([...dids], async (batch) => {
    rows.push(...(await db.selectFrom("invite_code").selectAll().where("for_account", "in", batch).orderBy("created_at", "desc").execute()));
  });
  for (const view of await withUses(db, rows)) {
    const list = byAccount.get(view.forAccount) ?? [];
    list.push(view);
    byAccount.set(view.forAccount, list);
  }
  return byAccount;
}

/** The code each of `dids` signed up with, by DID; accounts that needed none are absent. */
export async function invitedBy(db: Db, dids: readonly string[]): Promise<Map<string, InviteCodeView>> {
  const used: { code: string; used_by: string }[] = [];
  await inBatches([...dids], async (batch) => {
    used.push(...(await db.selectFrom("invite_code_use").select(["code", "used_by"]).where("used_by", "in", batch).execute()));
  });
  const codes = [...new Set(used.map((u) => u.code))];
  const rows: CodeRow[] = [];
  await inBatches(codes, async (batch) => {
    rows.push(...(await db.selectFrom("invite_code").selectAll().where("code", "in", batch).execute()));
  });
  const views = new Map((await withUses(db, rows)).map((v) => [v.code, v]));
  const result = new Map<string, InviteCodeView>();
  for (const u of used) {
    const view = views.get(u.code);
    if (view) result.set(u.used_by, view);
  }
  return result;
}

/**
 * Every invite code, newest first ("recent") or most used first ("usage"),
 * ties broken by code; the cursor is `<created-at ms or use count>::<code>`
 * of the page's last code.
 */
export async function listInviteCodes(db: Db, opts: { sort: string; limit: number; cursor?: string }): Promise<InviteCodePage> {
  if (opts.sort !== "recent" && opts.sort !== "usage") throw new InvalidRequestError(`unknown sort method: ${opts.sort}`);
  let query = codesWithUseCounts(db);
  const after = opts.cursor === undefined ? undefined : parseCursor(opts.cursor, opts.sort);
  if (opts.sort === "recent") {
    if (after) {
      const at = after.primary as string;
      query = query.where((eb) => eb.or([eb("created_at", "<", at), eb.and([eb("created_at", "=", at), eb("code", "<", after.code)])]));
    }
    query = query.orderBy("created_at", "desc").orderBy("code", "desc");
  } else {
    if (after) {
      const n = after.primary as number;
      query = query.where((eb) => eb.or([eb("uses", "<", n), eb.and([eb("uses", "=", n), eb("code", "<", after.code)])]));
    }
    query = query.orderBy("uses", "desc").orderBy("code", "desc");
  }
  const rows = await query.limit(opts.limit).execute();
  const codes = await withUses(db, rows);
  const last = rows.at(-1);
  if (!last || rows.length < opts.limit) return { codes };
  const primary = opts.sort === "recent" ? String(new Date(last.created_at).getTime()) : String(Number(last.uses));
  return { codes, cursor: `${primary}::${last.code}` };
}

function parseCursor(cursor: string, sort: InviteCodeSort): { primary: string | number; code: string } {
  const split = cursor.indexOf("::");
  const head = split === -1 ? "" : cursor.slice(0, split);
  const code = cursor.slice(split + 2);
  if (!/^\d{1,15}$/.test(head) || code === "") throw new InvalidRequestError("Malformed cursor");
  if (sort === "usage") return { primary: Number(head), code };
  return { primary: new Date(Number(head)).toISOString(), code };
}

/**
 * Disable codes by value and/or every code made for some accounts (existing
 * codes only; new ones are not refused). The admin's own codes cannot be
 * disabled by account (`admin`), as in the reference. One log entry per
 * code and per account named.
 */
export async function disableInviteCodes(db: DatabasePlugin, actor: string, opts: { codes: readonly string[]; accounts: readonly string[] }): Promise<void> {
  if (opts.accounts.includes("admin")) throw new InvalidRequestError("cannot disable admin invite codes");
  await db.transaction(async (tx) => {
    await inBatches([...opts.codes], (codes) => tx.updateTable("invite_code").set({ disabled: 1 }).where("code", "in", codes).execute());
    await inBatches([...opts.accounts], (accounts) => tx.updateTable("invite_code").set({ disabled: 1 }).where("for_account", "in", accounts).execute());
    for (const code of opts.codes) await logAdminAction(tx, { actor, action: "disable-invite-code", subjectType: "invite", subject: code });
    for (const did of opts.accounts) {
      await logAdminAction(tx, { actor, action: "disable-invite-codes", subjectType: "account", subject: did, subjectDid: did });
    }
  });
}

/**
 * Stop (or allow again) an account receiving invite codes; its existing codes
 * keep working. 400 for an account not hosted here. `note` goes to the log.
 */
export async function setAccountInvitesDisabled(db: DatabasePlugin, actor: string, did: string, disabled: boolean, note?: string): Promise<void> {
  await db.transaction(async (tx) => {
    const updated = await tx.updateTable("account").set({ invites_disabled: disabled ? 1 : 0 }).where("did", "=", did).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw new InvalidRequestError("Account not found");
    await logAdminAction(tx, {
      actor,
      action: disabled ? "disable-invites" : "enable-invites",
      subjectType: "account",
      subject: did,
      subjectDid: did,
      ...(note ? { detail: { note } } : {}),
    });
  });
}
