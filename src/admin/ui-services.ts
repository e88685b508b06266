/**
 * What the admin page asks of the admin services: the shapes it renders and
 * the operations its forms run. The page code depends on this interface
 * only; ui-bind.ts binds it to src/admin/accounts.ts, takedown.ts and
 * invites.ts, which own the logic (and the admin log entries).
 */

/** An account as the admin page shows it. */
export interface AdminAccountView {
  did: string;
  handle: string | null;
  email: string | null;
  emailConfirmed: boolean;
  createdAt: string;
  /** "active", "takendown", "deactivated", or what the service reports. */
  status: string;
  takedownRef?: string;
}

/** An invite code as the admin page shows it. */
export interface AdminInviteView {
  code: string;
  /** Uses left. */
  available: number;
  uses: number;
  disabled: boolean;
  forAccount: string;
  createdAt: string;
}

export interface AdminUiServices {
  /** Accounts whose handle or email starts with `query` (every account for ""), by DID. */
  searchAccounts(query: string, limit: number): Promise<AdminAccountView[]>;
  accountInfo(did: string): Promise<AdminAccountView | null>;
  takedown(did: string): Promise<void>;
  untakedown(did: string): Promise<void>;
  /** Set the account's password (the page generates it and shows it once). */
  setPassword(did: string, password: string): Promise<void>;
  /** A new invite code with `useCount` uses. */
  createInvite(useCount: number): Promise<string>;
  disableInvite(code: string): Promise<void>;
  /** The newest invite codes. */
  listInvites(limit: number): Promise<AdminInviteView[]>;
}
