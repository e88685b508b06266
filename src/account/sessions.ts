import type { DidDocument } from "@atproto/common-web";
import { INVALID_HANDLE } from "@atproto/syntax";
import type { AppPasswordGrant, SessionTokens } from "@/auth/sessions";
import { AuthRequiredError, InvalidRequestError } from "@/errors";
import type { AccountDeps } from "./deps";
import { hashAppPassword, verifyPassword } from "./passwords";
import { type AccountRow, accountByDid, accountByIdentifier, accountStatus } from "./store";

/** com.atproto.server.getSession output. */
export interface SessionView {
  did: string;
  handle: string;
  email?: string;
  emailConfirmed: boolean;
  active: boolean;
  status?: string;
  didDoc?: DidDocument;
}

export type SessionOutput = SessionView & SessionTokens;

/** A DID no account could have: gives unknown identifiers the same app-password hashing cost as known ones. */
const DECOY_DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";

/**
 * Log in by handle, email or DID with the account password or an app
 * password. Unknown identifier and wrong password are the same 401, and take
 * about as long (a decoy hash is checked), so neither reveals which accounts
 * exist. A taken-down account is refused only after its password checked out.
 */
export async function login(deps: AccountDeps, identifier: string, password: string): Promise<SessionOutput> {
  const db = deps.db.db();
  const account = await accountByIdentifier(db, identifier);
  let grant: AppPasswordGrant = null;
  if (!(await verifyPassword(password, account?.password_hash ?? null))) {
    const appPassword = await findAppPassword(deps, account?.did ?? DECOY_DID, password);
    if (!account || !appPassword) throw new AuthRequiredError("Invalid identifier or password");
    grant = appPassword;
  }
  if (account!.takedown_ref) throw new AuthRequiredError("Account has been taken down", "AccountTakedown");
  const tokens = await deps.sessions.open(account!.did, grant);
  return { ...tokens, ...(await sessionView(deps, account!)) };
}

/** Rotate a refresh token into a new pair; 400 ExpiredToken when it was revoked or ran out. */
export async function refresh(deps: AccountDeps, tokenId: string): Promise<SessionOutput> {
  const rotated = await deps.sessions.rotate(tokenId);
  if (!rotated) throw new InvalidRequestError("Token has been revoked", "ExpiredToken");
  const account = await accountByDid(deps.db.db(), rotated.did);
  if (!account) throw new InvalidRequestError(`Could not find user info for account: ${rotated.did}`);
  if (account.takedown_ref) throw new AuthRequiredError("Account has been taken down", "AccountTakedown");
  return { accessJwt: rotated.accessJwt, refreshJwt: rotated.refreshJwt, ...(await sessionView(deps, account)) };
}

export async function getSession(deps: AccountDeps, did: string): Promise<SessionView> {
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError(`Could not find user info for account: ${did}`);
  return sessionView(deps, account);
}

/**
 * What every session answer carries. The DID document is included (from the
 * cache) because clients read their PDS endpoint from it; when it cannot be
 * resolved right now the answer goes out without it.
 */
async function sessionView(deps: AccountDeps, account: AccountRow): Promise<SessionView> {
  const didDoc = await deps.identity.resolveDid(account.did).catch((err) => {
    deps.log.warn("could not resolve DID document for a session", { did: account.did, err });
    return null;
  });
  return {
    did: account.did,
    handle: account.handle ?? INVALID_HANDLE,
    ...(account.email ? { email: account.email } : {}),
    emailConfirmed: account.email_confirmed_at !== null,
    ...accountStatus(account),
    ...(didDoc ? { didDoc } : {}),
  };
}

async function findAppPassword(deps: AccountDeps, did: string, password: string): Promise<AppPasswordGrant | undefined> {
  const hash = await hashAppPassword(did, password);
  const row = await deps.db
    .db()
    .selectFrom("app_password")
    .select(["name", "privileged"])
    .where("did", "=", did)
    .where("password_hash", "=", hash)
    .executeTakeFirst();
  return row ? { name: row.name, privileged: row.privileged === 1 } : undefined;
}
