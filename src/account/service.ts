import type { Keypair } from "@atproto/crypto";
import { InvalidRequestError } from "@/errors";
import { type AppPasswordView, type CreatedAppPassword, createAppPassword, listAppPasswords, revokeAppPassword } from "./app-passwords";
import { createAccount } from "./create";
import type { CreateAccountInput, CreatedAccount } from "./sign-up";
import type { AccountDeps } from "./deps";
import { type HandleChange, recommendedDidCredentials, resolveHandle, updateHandle } from "./identity";
import { type InviteCodeView, accountInviteCodes, createInviteCodes } from "./invites";
import { type AccountStatusView, activateAccount, checkAccountStatus, deactivateAccount } from "./lifecycle";
import { type EmailUpdate, confirmEmail, requestEmailConfirmation, requestEmailUpdate, requestPasswordReset, resetPassword, updateEmail } from "./email-flows";
import { type PlcOperationChanges, requestPlcOperationSignature, signPlcOperation, submitPlcOperation } from "./plc-operations";
import { type LoginOptions, type SessionOutput, type SessionView, authenticate, getSession, login, refresh } from "./sessions";
import { type AccountRow, accountByDid, accountByHandle } from "./store";

/**
 * Accounts: sign-up, log-in and sessions, app passwords, invite codes and
 * handles. The XRPC handlers call these; so does the rest of the server
 * (repo writes need `signingKey`). No HTTP here.
 */
export interface AccountService {
  createAccount(input: CreateAccountInput): Promise<CreatedAccount>;
  /**
   * Log in by handle, email or DID; 401 AuthenticationRequired on a bad identifier or password,
   * 429 when client IP `ip` has used up its `login-failures` budget.
   */
  createSession(identifier: string, password: string, ip: string, opts?: LoginOptions): Promise<SessionOutput>;
  /**
   * Check a log-in as createSession does (rate limit, password, takedown, the
   * emailed code: 401 AuthFactorTokenRequired until it is given) without
   * opening a session; `appPassword` tells whether an app password was used.
   */
  authenticate(identifier: string, password: string, ip: string, opts?: LoginOptions): Promise<{ did: string; handle: string | null; appPassword: boolean }>;
  /** Rotate the refresh token `tokenId` (the caller's verified `jti`). */
  refreshSession(tokenId: string): Promise<SessionOutput>;
  /** Revoke the refresh token `tokenId` and the access tokens of its session. */
  deleteSession(tokenId: string): Promise<void>;
  getSession(did: string): Promise<SessionView>;
  /** The hosted account, by DID or handle (any case). */
  getAccount(handleOrDid: string): Promise<AccountRow | undefined>;
  /** The account's signing key, opened from its sealed form. Throws 400 InvalidRequest for an unknown DID. */
  signingKey(did: string): Promise<Keypair>;
  /**
   * The key of `did` from its sealed form as its account row holds it (the write path reads the row
   * itself); null, no row: 400 AccountNotFound, as `signingKey`.
   */
  openSigningKey(did: string, sealed: Uint8Array | null): Promise<Keypair>;
  createAppPassword(did: string, name: string, privileged: boolean): Promise<CreatedAppPassword>;
  listAppPasswords(did: string): Promise<AppPasswordView[]>;
  revokeAppPassword(did: string, name: string): Promise<void>;
  /** Admin-made codes; `forAccounts` defaults to `["admin"]`. */
  createInviteCodes(opts: { codeCount: number; useCount: number; forAccounts?: readonly string[] }): Promise<{ account: string; codes: string[] }[]>;
  getAccountInviteCodes(did: string, opts: { includeUsed: boolean }): Promise<InviteCodeView[]>;
  /** Hosted handles from the database, others through the identity resolver. */
  resolveHandle(handle: string): Promise<string | null>;
  /** `allowReserved`: admins may give out reserved labels under the service domains. */
  updateHandle(did: string, handle: string, opts?: { allowReserved?: boolean }): Promise<HandleChange>;
  recommendedDidCredentials(did: string): ReturnType<typeof recommendedDidCredentials>;
  /** Mail a plc_operation code (did:plc accounts). */
  requestPlcOperationSignature(did: string): Promise<void>;
  /** Spend the code and sign, with the server's rotation key, an update of the DID (returned, not submitted). */
  signPlcOperation(did: string, changes: PlcOperationChanges): ReturnType<typeof signPlcOperation>;
  /** Check an operation signed elsewhere keeps the account served here, submit it, announce #identity. */
  submitPlcOperation(did: string, operation: unknown): Promise<void>;
  /** Mail a confirm_email code to the account's address. */
  requestEmailConfirmation(did: string): Promise<void>;
  confirmEmail(did: string, email: string, token: string): Promise<void>;
  /** `tokenRequired`: the address is confirmed, and an update_email code was mailed to it. */
  requestEmailUpdate(did: string): Promise<{ tokenRequired: boolean }>;
  updateEmail(did: string, update: EmailUpdate): Promise<void>;
  /** Same answer whether or not `email` belongs to an account. */
  requestPasswordReset(email: string): Promise<void>;
  /** New password by reset_password code; every session of the account ends. */
  resetPassword(token: string, password: string): Promise<void>;
  /** Stop writes and hide the repository from others' sync reads; `#account` inactive. `deleteAfter`: an ISO time, or null. */
  deactivateAccount(did: string, deleteAfter: string | null): Promise<void>;
  /** Undo a deactivation (never a takedown); re-announces the account with #identity, #account and #sync. */
  activateAccount(did: string): Promise<void>;
  checkAccountStatus(did: string): Promise<AccountStatusView>;
}

export function createAccountService(deps: AccountDeps): AccountService {
  const db = () => deps.db.db();
  const openSigningKey = async (did: string, sealed: Uint8Array | null) => {
    if (!sealed) throw new InvalidRequestError(`Could not find account: ${did}`, "AccountNotFound");
    return deps.vault.open(did, sealed);
  };
  return {
    createAccount: (input) => createAccount(deps, input),
    createSession: (identifier, password, ip, opts) => login(deps, identifier, password, ip, opts),
    async authenticate(identifier, password, ip, opts) {
      const { account, grant } = await authenticate(deps, identifier, password, ip, opts);
      return { did: account.did, handle: account.handle, appPassword: grant !== null };
    },
    refreshSession: (tokenId) => refresh(deps, tokenId),
    deleteSession: (tokenId) => deps.sessions.revoke(tokenId),
    getSession: (did) => getSession(deps, did),
    getAccount: (handleOrDid) => (handleOrDid.startsWith("did:") ? accountByDid(db(), handleOrDid) : accountByHandle(db(), handleOrDid)),
    async signingKey(did) {
      const row = await db().selectFrom("account").select("signing_key").where("did", "=", did).executeTakeFirst();
      return openSigningKey(did, row?.signing_key ?? null);
    },
    openSigningKey,
    createAppPassword: (did, name, privileged) => createAppPassword(deps, did, name, privileged),
    listAppPasswords: (did) => listAppPasswords(deps, did),
    revokeAppPassword: (did, name) => revokeAppPassword(deps, did, name),
    createInviteCodes: ({ codeCount, useCount, forAccounts }) =>
      createInviteCodes(db(), {
        hostname: deps.config.service.hostname,
        forAccounts: forAccounts && forAccounts.length > 0 ? forAccounts : ["admin"],
        codeCount,
        useCount,
        createdBy: "admin",
      }),
    async getAccountInviteCodes(did, { includeUsed }) {
      const codes = await accountInviteCodes(db(), did);
      return codes.filter((c) => !c.disabled && (includeUsed || c.uses.length < c.available));
    },
    resolveHandle: (handle) => resolveHandle(deps, handle),
    updateHandle: (did, handle, opts) => updateHandle(deps, did, handle, opts),
    recommendedDidCredentials: (did) => recommendedDidCredentials(deps, did),
    requestPlcOperationSignature: (did) => requestPlcOperationSignature(deps, did),
    signPlcOperation: (did, changes) => signPlcOperation(deps, did, changes),
    submitPlcOperation: (did, operation) => submitPlcOperation(deps, did, operation),
    requestEmailConfirmation: (did) => requestEmailConfirmation(deps, did),
    confirmEmail: (did, email, token) => confirmEmail(deps, did, email, token),
    requestEmailUpdate: (did) => requestEmailUpdate(deps, did),
    updateEmail: (did, update) => updateEmail(deps, did, update),
    requestPasswordReset: (email) => requestPasswordReset(deps, email),
    resetPassword: (token, password) => resetPassword(deps, token, password),
    deactivateAccount: (did, deleteAfter) => deactivateAccount(deps, did, deleteAfter),
    activateAccount: (did) => activateAccount(deps, did),
    checkAccountStatus: (did) => checkAccountStatus(deps, did),
  };
}
