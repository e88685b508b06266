import { isUniqueViolation } from "@/db/errors";
import { InvalidRequestError } from "@/errors";
import { normalizeEmail } from "./sign-up";
import type { AccountDeps } from "./deps";
import { PASSWORD_MAX_LENGTH, hashPassword } from "./passwords";
import { type AccountRow, accountByDid, accountByEmail } from "./store";

async function accountWithEmail(deps: AccountDeps, did: string): Promise<AccountRow & { email: string }> {
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("account not found");
  if (!account.email) throw new InvalidRequestError("account does not have an email address");
  return account as AccountRow & { email: string };
}

/** Mail a confirm_email code to the account's address. */
export async function requestEmailConfirmation(deps: AccountDeps, did: string): Promise<void> {
  const account = await accountWithEmail(deps, did);
  const token = await deps.emailTokens.issue(did, "confirm_email");
  await deps.mailer.send({ template: "confirm-email", to: account.email, vars: { token } });
}

/** Confirm the address `email` (it must be the account's) with a confirm_email code. */
export async function confirmEmail(deps: AccountDeps, did: string, email: string, token: string): Promise<void> {
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("user not found", "AccountNotFound");
  if (account.email !== email.trim().toLowerCase()) throw new InvalidRequestError("invalid email", "InvalidEmail");
  await deps.db.transaction(async (tx) => {
    await deps.emailTokens.consume(did, "confirm_email", token, tx);
    await tx.updateTable("account").set({ email_confirmed_at: new Date().toISOString() }).where("did", "=", did).execute();
  });
}

/** A confirmed address must approve its own replacement: an update_email code goes to it. */
export async function requestEmailUpdate(deps: AccountDeps, did: string): Promise<{ tokenRequired: boolean }> {
  const account = await accountWithEmail(deps, did);
  if (account.email_confirmed_at === null) return { tokenRequired: false };
  const token = await deps.emailTokens.issue(did, "update_email");
  await deps.mailer.send({ template: "update-email", to: account.email, vars: { token } });
  return { tokenRequired: true };
}

export interface EmailUpdate {
  email: string;
  token?: string;
  /** Turn the mailed sign-in code on or off; absent leaves it as it is. */
  emailAuthFactor?: boolean;
}

/**
 * Change the address and/or the email two-factor setting. With a confirmed
 * address an update_email code is required (and spent). A new address is
 * unconfirmed and voids every outstanding token of the account; the same
 * address (the app's two-factor switch sends it) stays confirmed. Two-factor
 * can only be switched on for a confirmed address: codes must reach the user.
 */
export async function updateEmail(deps: AccountDeps, did: string, update: EmailUpdate): Promise<void> {
  const email = normalizeEmail(update.email);
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("account not found");
  if (account.email_confirmed_at !== null && !update.token) throw new InvalidRequestError("confirmation token required", "TokenRequired");
  const changed = account.email !== email;
  if (update.emailAuthFactor === true && (changed || account.email_confirmed_at === null)) {
    throw new InvalidRequestError("Confirm your email address before turning on email two-factor authentication.");
  }
  try {
    await deps.db.transaction(async (tx) => {
      if (update.token) await deps.emailTokens.consume(did, "update_email", update.token, tx);
      const factor = update.emailAuthFactor === undefined ? {} : { email_auth_factor: update.emailAuthFactor ? 1 : 0 };
      const address = changed ? { email, email_confirmed_at: null } : {};
      if (changed || update.emailAuthFactor !== undefined) {
        await tx.updateTable("account").set({ ...address, ...factor }).where("did", "=", did).execute();
      }
      if (changed) await deps.emailTokens.revokeAll(did, tx);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new InvalidRequestError("This email address is already in use, please use a different email.");
    throw err;
  }
}

/**
 * Mail a reset_password code when `email` is an account's address. The
 * answer is the same either way, and so is its timing: both paths do one
 * indexed lookup and return; the token and the mail follow in the
 * background, where their cost is not in the response time.
 */
export async function requestPasswordReset(deps: AccountDeps, rawEmail: string): Promise<void> {
  const email = rawEmail.trim().toLowerCase();
  const account = await accountByEmail(deps.db.db(), email);
  if (!account?.email) return;
  const to = account.email;
  // After the response is on its way: bun:sqlite writes on this thread, and would otherwise delay it.
  setTimeout(() => {
    void (async () => {
      const token = await deps.emailTokens.issue(account.did, "reset_password");
      await deps.mailer.send({ template: "reset-password", to, vars: { token, handle: account.handle ?? to } });
    })().catch((err) => deps.log.error("password reset mail could not be prepared", { err }));
  }, 0);
}

/**
 * Set a new password with a reset_password code (which names the account).
 * Every session and refresh token of the account is revoked in the same
 * transaction; sessions are read from the database on every request, and
 * cached copies are dropped after the commit, so the old sessions end on
 * every node.
 */
export async function resetPassword(deps: AccountDeps, token: string, password: string): Promise<void> {
  if (password.length > PASSWORD_MAX_LENGTH) throw new InvalidRequestError("Invalid password length.");
  const passwordHash = await hashPassword(password);
  const revoked = await deps.db.transaction(async (tx) => {
    const did = await deps.emailTokens.consumeByToken("reset_password", token, tx);
    await tx.updateTable("account").set({ password_hash: passwordHash }).where("did", "=", did).execute();
    const rows = await tx.deleteFrom("refresh_token").where("did", "=", did).returning("id").execute();
    return rows.map((r) => r.id);
  });
  await deps.sessions.forget(revoked);
}
