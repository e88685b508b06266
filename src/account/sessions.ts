import type { DidDocument } from "@atproto/common-web";
import { INVALID_HANDLE } from "@atproto/syntax";
import type { AppPasswordGrant, SessionTokens } from "@/auth/sessions";
import { AuthRequiredError, InvalidRequestError } from "@/errors";
import type { AccountDeps } from "./deps";
import { hashAppPassword, isAppPasswordShaped, verifyPassword } from "./passwords";
import { type AccountRow, accountByDid, accountByIdentifier, accountStatus } from "./store";

/** com.atproto.server.getSession output. */
export interface SessionView {
  did: string;
  handle: string;
  email?: string;
  emailConfirmed: boolean;
  emailAuthFactor: boolean;
  active: boolean;
  status?: string;
  didDoc?: DidDocument;
}

export type SessionOutput = SessionView & SessionTokens;

/** createSession's optional inputs. */
export interface LoginOptions {
  /** The code mailed for email two-factor log-in. */
  authFactorToken?: string;
  /** A taken-down account may log in only with this, and gets the reference's limited session (scope com.atproto.takendown). */
  allowTakendown?: boolean;
}

/** A DID no account could have: unknown identifiers get the same app-password hashing cost as known ones. */
const DECOY_DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";

/** The rule (src/rate-limit/rules.ts) that counts failed log-ins per client IP. */
export const LOGIN_FAILURES_RULE = "login-failures";

/**
 * Log in by handle, email or DID with the account password or an app
 * password. Unknown identifier and wrong password are the same 401 and cost
 * the same hashing (a decoy when there is no account), so neither reveals
 * which accounts exist. A taken-down account is refused only after its
 * password checked out.
 *
 * Failed log-ins are limited per client IP `ip`, whatever identifiers it
 * tries. The point is spent before any hashing: an IP over its budget gets
 * a 429 without costing a hash, and concurrent guesses cannot all slip past
 * a check that only reads the budget. A log-in whose password checks out
 * (or that fails for another reason) gets its point back.
 */
export async function login(deps: AccountDeps, identifier: string, password: string, ip: string, opts: LoginOptions = {}): Promise<SessionOutput> {
  const { account, grant, takendown } = await authenticate(deps, identifier, password, ip, opts);
  const tokens = await deps.sessions.open(account.did, grant, undefined, { takendown });
  return { ...tokens, ...(await sessionView(deps, account)) };
}

/** Who a checked log-in is: the account, the app password it used (null for the account password), and whether it is taken down. */
export interface Authenticated {
  account: AccountRow;
  grant: AppPasswordGrant;
  takendown: boolean;
}

/**
 * Every check of a log-in, without opening a session: the identifier and
 * password (or app password), the per-IP failure budget, the takedown rule
 * and the email two-factor code. createSession opens a session on the
 * result; the OAuth sign-in page (which takes account passwords only) opens
 * an authorization instead.
 */
export async function authenticate(deps: AccountDeps, identifier: string, password: string, ip: string, opts: LoginOptions = {}): Promise<Authenticated> {
  await deps.rateLimits.consumePoints(LOGIN_FAILURES_RULE, ip, 1);
  let found: Credentials | null;
  try {
    found = await checkCredentials(deps, identifier, password);
  } catch (err) {
    await refundFailure(deps, ip);
    throw err;
  }
  if (!found) throw new AuthRequiredError("Invalid identifier or password");
  await refundFailure(deps, ip);
  const { account, grant } = found;
  const takendown = account.takedown_ref !== null;
  if (takendown && !opts.allowTakendown) throw new AuthRequiredError("Account has been taken down", "AccountTakedown");
  // As the reference: a taken-down account's way in is its account password, never an app password.
  if (takendown && grant !== null) throw new AuthRequiredError("Invalid identifier or password");
  // App passwords skip the mailed code, as in the Bluesky app: they are already a second secret.
  if (account.email_auth_factor === 1 && grant === null) await checkAuthFactor(deps, account, opts.authFactorToken);
  return { account, grant, takendown };
}

/**
 * Email two-factor: without a code, mail one and answer 401
 * AuthFactorTokenRequired (the password was right, so this tells nothing
 * to someone without it); with one, spend it.
 */
async function checkAuthFactor(deps: AccountDeps, account: AccountRow, token: string | undefined): Promise<void> {
  if (token) return deps.emailTokens.consume(account.did, "two_factor", token);
  if (!account.email) throw new AuthRequiredError("Account has no email address for the sign in code", "AuthFactorTokenRequired");
  const code = await deps.emailTokens.issue(account.did, "two_factor");
  await deps.mailer.send({ template: "two-factor", to: account.email, vars: { token: code } });
  throw new AuthRequiredError("A sign in code has been sent to your email address", "AuthFactorTokenRequired");
}

interface Credentials {
  account: AccountRow;
  grant: AppPasswordGrant;
}

/**
 * The account and grant the password opens, or null. Which hashes run
 * depends only on the password's shape, never on whether the account
 * exists: one argon2id check for most passwords; an app-password-shaped one
 * is tried as an app password first (third-party clients log in with them),
 * then as the account password.
 */
async function checkCredentials(deps: AccountDeps, identifier: string, password: string): Promise<Credentials | null> {
  const account = await accountByIdentifier(deps.db.db(), identifier);
  if (isAppPasswordShaped(password)) {
    const grant = await findAppPassword(deps, account?.did ?? DECOY_DID, password);
    if (account && grant) return { account, grant };
  }
  const valid = await verifyPassword(password, account?.password_hash ?? null);
  return account && valid ? { account, grant: null } : null;
}

/** Give the point back; losing it only makes the limit a little stricter, so it never fails the log-in. */
async function refundFailure(deps: AccountDeps, ip: string): Promise<void> {
  await deps.rateLimits.refund(LOGIN_FAILURES_RULE, ip, 1).catch((err) => {
    deps.log.warn("could not refund a login-failures point", { err });
  });
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
    emailAuthFactor: account.email_auth_factor === 1,
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
