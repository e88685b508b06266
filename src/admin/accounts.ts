import type { AppContext } from "@/app-context";
import { deleteAccountData } from "@/account/delete";
import { PASSWORD_MAX_LENGTH, hashPassword } from "@/account/passwords";
import { normalizeEmail } from "@/account/sign-up";
import type { Caller } from "@/auth/types";
import { isUniqueViolation } from "@/db/errors";
import { InvalidRequestError } from "@/errors";
import { logAdminAction } from "./log";

/**
 * Account administration (com.atproto.admin.*): the changes an operator
 * makes to an account, each logged in the admin log with who made it. No
 * HTTP here; the handlers under src/xrpc/com/atproto/admin/ call these.
 */

/** Who the log names: "admin" for the Basic admin password, else the moderation service's DID as it signed. */
export function adminActor(caller: Caller | null): string {
  if (caller?.kind === "service") return caller.iss ?? caller.did ?? "service";
  return "admin";
}

type DeleteDeps = Pick<AppContext, "db" | "blobs" | "sequencer" | "cached" | "identity" | "rateLimits" | "log">;

/**
 * Delete an account for good, as the user's own deletion does (every
 * did-table, the tombstone, `#account` deleted, the blob bytes), with the
 * log entry in the deletion's transaction. 400 when it is not hosted here.
 */
export async function deleteAccountAsAdmin(deps: DeleteDeps, actor: string, did: string): Promise<void> {
  await deleteAccountData(deps, did, {
    authorize: (tx) => logAdminAction(tx, { actor, action: "delete-account", subjectType: "account", subject: did, subjectDid: did }),
  });
}

/**
 * Give an account a new handle through the user's own path (syntax and
 * service-domain rules, resolution of other domains, the PLC update, the
 * `#identity` event), except that reserved labels are allowed, as the
 * reference allows its admin.
 */
export async function updateHandleAsAdmin(ctx: Pick<AppContext, "accounts" | "db">, actor: string, did: string, handle: string): Promise<void> {
  const change = await ctx.accounts.updateHandle(did, handle, { allowReserved: true });
  await logAdminAction(ctx.db.db(), {
    actor,
    action: "update-handle",
    subjectType: "account",
    subject: did,
    subjectDid: did,
    detail: { handle: change.handle, previousHandle: change.previousHandle },
  });
}

/**
 * Set an account's address (found by handle or DID). The new address is
 * unconfirmed and every outstanding email token of the account is void, as
 * when the user changes it; an address another account has is refused.
 */
export async function updateEmailAsAdmin(ctx: Pick<AppContext, "accounts" | "db" | "emailTokens">, actor: string, account: string, rawEmail: string): Promise<void> {
  const found = await ctx.accounts.getAccount(account);
  if (!found) throw new InvalidRequestError(`Account does not exist: ${account}`);
  const email = normalizeEmail(rawEmail);
  try {
    await ctx.db.transaction(async (tx) => {
      await tx.updateTable("account").set({ email, email_confirmed_at: null }).where("did", "=", found.did).execute();
      await ctx.emailTokens.revokeAll(found.did, tx);
      await logAdminAction(tx, { actor, action: "update-email", subjectType: "account", subject: found.did, subjectDid: found.did, detail: { email } });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new InvalidRequestError("This email address is already in use, please use a different email.");
    throw err;
  }
}

/**
 * Set a new password and end every session of the account in the same
 * transaction: password and app-password sessions (their refresh tokens;
 * the app passwords themselves stay, as in the reference), OAuth sessions,
 * and an outstanding password-reset code. Cached session rows are dropped
 * after the commit, so the old access tokens stop on every node at once.
 */
export async function updatePasswordAsAdmin(ctx: Pick<AppContext, "db" | "sessions">, actor: string, did: string, password: string): Promise<void> {
  if (password.length > PASSWORD_MAX_LENGTH) throw new InvalidRequestError("Invalid password length.");
  const passwordHash = await hashPassword(password);
  const revoked = await ctx.db.transaction(async (tx) => {
    const updated = await tx.updateTable("account").set({ password_hash: passwordHash }).where("did", "=", did).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw new InvalidRequestError("Account not found");
    await tx.deleteFrom("email_token").where("did", "=", did).where("purpose", "=", "reset_password").execute();
    const sessions = await tx.deleteFrom("refresh_token").where("did", "=", did).returning("id").execute();
    const oauth = await tx.selectFrom("oauth_token").select("id").where("did", "=", did).execute();
    const oauthIds = oauth.map((r) => r.id);
    if (oauthIds.length > 0) {
      await tx.deleteFrom("oauth_used_refresh_token").where("token_id", "in", oauthIds).execute();
      await tx.deleteFrom("oauth_token").where("did", "=", did).execute();
    }
    const detail = { sessionsRevoked: sessions.length, oauthSessionsRevoked: oauthIds.length };
    await logAdminAction(tx, { actor, action: "reset-password", subjectType: "account", subject: did, subjectDid: did, detail });
    return { sessions: sessions.map((r) => r.id), oauth: oauthIds };
  });
  await ctx.sessions.forget(revoked.sessions);
  await Promise.all(revoked.oauth.map((id) => ctx.sessions.forgetOAuth(id)));
}

/** sendEmail's input (com.atproto.admin.sendEmail). */
export interface ModerationEmail {
  recipientDid: string;
  content: string;
  subject?: string;
  senderDid: string;
  comment?: string;
}

/**
 * Mail an account's address through the moderation transport (the
 * `moderation` template). `sent` is false when no moderation SMTP server is
 * configured: the mailer then counts the message as unconfigured and drops it.
 */
export async function sendModerationEmail(ctx: Pick<AppContext, "accounts" | "db" | "mailer" | "config">, actor: string, mail: ModerationEmail): Promise<{ sent: boolean }> {
  const account = await ctx.accounts.getAccount(mail.recipientDid);
  if (!account) throw new InvalidRequestError("Recipient not found");
  if (!account.email) throw new InvalidRequestError("account does not have an email address");
  const subject = mail.subject ?? "Message via your PDS";
  await ctx.mailer.send({ template: "moderation", to: account.email, vars: { subject, content: mail.content } });
  const sent = Boolean(ctx.config.email.moderationSmtpUrl);
  await logAdminAction(ctx.db.db(), {
    actor,
    action: "send-email",
    subjectType: "account",
    subject: account.did,
    subjectDid: account.did,
    detail: { subject, senderDid: mail.senderDid, sent, ...(mail.comment ? { comment: mail.comment } : {}) },
  });
  return { sent };
}
