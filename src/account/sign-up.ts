import type { DidDocument } from "@atproto/common-web";
import type { DbTransaction } from "@/contracts/db";
import { isUniqueViolation } from "@/db/errors";
import { InvalidRequestError } from "@/errors";
import { isDeletedDid } from "./delete";
import type { AccountDeps } from "./deps";
import { validateRequestedHandle } from "./handle";
import { assertInviteAvailable, consumeInvite } from "./invites";
import { hashPassword } from "./passwords";
import { accountByEmail, accountByHandle } from "./store";

/* What every sign-up shares, a new account (create.ts) or one moving in (move-in.ts): the input, the checks, the insert. */

/** com.atproto.server.createAccount input. */
export interface CreateAccountInput {
  handle: string;
  email?: string;
  password?: string;
  inviteCode?: string;
  recoveryKey?: string;
  did?: string;
  plcOp?: unknown;
  /** The verified caller of createAccount: with `did`, the DID whose service auth came with the request. */
  requester?: string;
}

export interface CreatedAccount {
  did: string;
  handle: string;
  accessJwt: string;
  refreshJwt: string;
  didDoc?: DidDocument;
}

// Deliberately loose: one @, something on both sides, a dot in the domain. Deliverability is the mail server's call.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The checks every sign-up passes before anything is created: invite,
 * email, handle (`external`: a handle outside our domains, which must already
 * resolve to `did`), availability; returns what is stored. The unique
 * indexes and the invite lock decide races later.
 */
export async function checkSignUp(
  deps: AccountDeps,
  input: CreateAccountInput,
  opts: { external: boolean },
): Promise<{ email: string; handle: string; passwordHash: string | null }> {
  const { service } = deps.config;
  const db = deps.db.db();
  if (service.inviteRequired && !input.inviteCode) throw new InvalidRequestError("No invite code provided", "InvalidInviteCode");
  if (!input.email) throw new InvalidRequestError("Email is required");
  const email = normalizeEmail(input.email);
  const handle = validateRequestedHandle(input.handle, service.handleDomains, opts);
  if (await accountByHandle(db, handle)) throw handleTaken(handle);
  if (await accountByEmail(db, email)) throw emailTaken(email);
  if (input.inviteCode) await assertInviteAvailable(db, input.inviteCode);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  return { email, handle, passwordHash };
}

/**
 * Inside the creating transaction: refuse a DID deleted here (the tombstone outlives the account; the
 * handle and email are free), spend the invite, insert the account row.
 */
export async function insertAccount(
  deps: AccountDeps,
  tx: DbTransaction,
  a: { did: string; handle: string; email: string; passwordHash: string | null; sealed: Uint8Array; inviteCode?: string; deactivated: boolean },
): Promise<void> {
  if (await isDeletedDid(tx, a.did)) throw new InvalidRequestError(`This DID was deleted from this server: ${a.did}`);
  if (a.inviteCode) {
    await deps.db.lock(tx, `invite:${a.inviteCode}`);
    await consumeInvite(tx, a.inviteCode, a.did);
  }
  const now = new Date().toISOString();
  await tx
    .insertInto("account")
    .values({
      did: a.did,
      handle: a.handle,
      email: a.email,
      email_confirmed_at: null,
      password_hash: a.passwordHash,
      signing_key: a.sealed,
      created_at: now,
      deactivated_at: a.deactivated ? now : null,
      delete_after: null,
      takedown_ref: null,
    })
    .execute();
}

/** A unique-index violation at insert time as the refusal the early checks give; other errors unchanged. */
export async function uniqueToTaken(deps: AccountDeps, err: unknown, handle: string, email: string): Promise<unknown> {
  if (!isUniqueViolation(err)) return err;
  return (await accountByHandle(deps.db.db(), handle)) ? handleTaken(handle) : emailTaken(email);
}

/** An address as stored (trimmed, lower case); 400 for one that cannot be an address. Also used by updateEmail. */
export function normalizeEmail(input: string): string {
  const email = input.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 254) throw new InvalidRequestError("This email address is not supported, please use a different email.");
  return email;
}

function handleTaken(handle: string): InvalidRequestError {
  return new InvalidRequestError(`Handle already taken: ${handle}`, "HandleNotAvailable");
}

function emailTaken(email: string): InvalidRequestError {
  return new InvalidRequestError(`Email already taken: ${email}`);
}
