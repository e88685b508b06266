import type { Generated, Insertable, Selectable, Updateable } from "kysely";

/**
 * The one database schema, shared by every database plugin (the migrations in
 * src/db/migrations create exactly these tables). Conventions:
 * - Table and column names are snake_case in SQL and here, so raw `sql`
 *   fragments and Kysely queries use the same names.
 * - Times are ISO-8601 UTC strings (`new Date().toISOString()`): one format
 *   for both dialects, and they sort correctly as text.
 * - Flags are integers 0/1 (SQLite has no boolean type).
 * - Bytes are `Uint8Array` (PostgreSQL `bytea`, SQLite `blob`); PostgreSQL
 *   returns a `Buffer`, which is a `Uint8Array`.
 * - 64-bit integers come back as JS numbers on both dialects (seq, sizes).
 * - No foreign keys: account deletion removes rows explicitly, and imports
 *   and the SQLite → PostgreSQL data mover copy tables in any order.
 */

/** A hosted account: identity, credentials and moderation state. */
export interface AccountTable {
  did: string;
  /** Lower-case; unique case-insensitively. Null while an account has no valid handle. */
  handle: string | null;
  /** Unique case-insensitively. */
  email: string | null;
  email_confirmed_at: string | null;
  /** Password hash (argon2id, Bun.password); null for accounts that cannot log in by password. */
  password_hash: string | null;
  /** The account's signing key, encrypted with the server secret. */
  signing_key: Uint8Array;
  invites_disabled: Generated<number>;
  created_at: string;
  deactivated_at: string | null;
  /** When a deactivated account's data may be deleted. */
  delete_after: string | null;
  takedown_ref: string | null;
  /** 1 = log-in by password also needs a code mailed to the account's address (updateEmail's `emailAuthFactor`). */
  email_auth_factor: Generated<number>;
}

export interface AppPasswordTable {
  did: string;
  name: string;
  password_hash: string;
  /** 1 = `com.atproto.appPassPrivileged` scope. */
  privileged: Generated<number>;
  created_at: string;
}

/** One row per issued refresh JWT (`jti`); rotation links the old token to its successor. */
export interface RefreshTokenTable {
  id: string;
  did: string;
  expires_at: string;
  /** Set when the session was made with an app password. */
  app_password_name: string | null;
  /** The token this one was rotated into; the old token stays valid for a grace window. */
  next_id: string | null;
}

export interface InviteCodeTable {
  code: string;
  available_uses: number;
  disabled: Generated<number>;
  /** The DID the code was made for, or `admin`. */
  for_account: string;
  created_by: string;
  created_at: string;
}

export interface InviteCodeUseTable {
  code: string;
  used_by: string;
  used_at: string;
}

/** The current commit of each repository. */
export interface RepoRootTable {
  did: string;
  cid: string;
  rev: string;
  indexed_at: string;
}

/** Repository blocks (commits, MST nodes, records), DAG-CBOR bytes. */
export interface RepoBlockTable {
  did: string;
  cid: string;
  /** Revision of the commit that added the block. */
  rev: string;
  size: number;
  content: Uint8Array;
}

export interface RecordTable {
  /** at://did/collection/rkey */
  uri: string;
  cid: string;
  did: string;
  collection: string;
  rkey: string;
  rev: string;
  indexed_at: string;
  takedown_ref: string | null;
}

export interface BlobTable {
  did: string;
  cid: string;
  mime_type: string;
  size: number;
  /** Key in the blob store's temporary area; null once a committed record references the blob. */
  temp_key: string | null;
  width: number | null;
  height: number | null;
  created_at: string;
  takedown_ref: string | null;
}

/** Which records reference which blobs (a blob with no row here is unreferenced). */
export interface RecordBlobTable {
  did: string;
  blob_cid: string;
  record_uri: string;
}

/**
 * The event sequence behind subscribeRepos. `seq` is assigned by the
 * database (AUTOINCREMENT / identity) and never reused. The sequencer takes
 * the named lock `seq` (DatabasePlugin.lock) in the writing transaction just
 * before inserting, so seqs become visible in commit order on every node.
 */
export interface RepoSeqTable {
  seq: Generated<number>;
  did: string;
  /** `commit`, `identity`, `account` or `sync`. */
  event_type: string;
  /** The event body, DAG-CBOR. */
  event: Uint8Array;
  /** 1 when a later event supersedes this one (account deletion); kept for cursor continuity. */
  invalidated: Generated<number>;
  sequenced_at: string;
}

/** Cache entries that must survive restarts and be shared by every node. */
export interface CacheEntryTable {
  key: string;
  value: string;
  /** Null = no expiry. */
  expires_at: string | null;
}

/** One app preference of an account (putPreferences), at its place in the account's list. */
export interface AccountPrefTable {
  did: string;
  /** 0-based order within the account's preferences. */
  position: number;
  /** The preference's `$type`. */
  name: string;
  /** The preference exactly as the client sent it, as JSON text. */
  value_json: string;
}

/**
 * One outstanding email token per account and purpose (a new one replaces it).
 * Only the token's SHA-256 is kept, so a database reader cannot use it.
 */
export interface EmailTokenTable {
  did: string;
  /** An `EmailTokenPurpose` (src/account/email-tokens.ts). */
  purpose: string;
  /** Hex SHA-256 of the token in its canonical (upper-case) form. */
  token_hash: string;
  requested_at: string;
}

/** A deleted account's DID, kept so the DID is never hosted here again; nothing else of the account stays. */
export interface DeletedAccountTable {
  did: string;
  deleted_at: string;
}

/** A signing key reserved before its account exists (reserveSigningKey); createAccount with that DID takes it. */
export interface ReservedSigningKeyTable {
  /** The key's did:key. */
  key_did: string;
  /** The DID it was reserved for, when one was given. */
  for_did: string | null;
  /** Sealed like an account's key, under the key's did:key. */
  signing_key: Uint8Array;
  created_at: string;
}

/** A pushed authorization request (PAR), until its code is exchanged or it expires. */
export interface OAuthRequestTable {
  /** The `request_uri`'s id. */
  id: string;
  client_id: string;
  /** JSON: how the client authenticated at PAR (`{ method: "none" }` or private_key_jwt's key id). */
  client_auth: string;
  /** JSON: the validated authorization request parameters. */
  parameters: string;
  dpop_jkt: string | null;
  /** The browser (oauth_device) that took the request through the pages. */
  device_id: string | null;
  /** The account that consented, once it has. */
  did: string | null;
  /** The authorization code, once issued. */
  code: string | null;
  expires_at: string;
  created_at: string;
}

/** A browser known by its device cookie; only the cookie secret's SHA-256 is kept. */
export interface OAuthDeviceTable {
  id: string;
  secret_hash: string;
  user_agent: string | null;
  ip: string | null;
  created_at: string;
  last_seen_at: string;
}

/** An account signed in on a device (the account chooser lists the remembered ones). */
export interface OAuthDeviceAccountTable {
  device_id: string;
  did: string;
  authenticated_at: string;
  /** 1 when the user asked to stay signed in on this device. */
  remember: number;
}

/** The scopes an account has consented to for a client; a request within them skips the consent page. */
export interface OAuthAuthorizedClientTable {
  did: string;
  client_id: string;
  scope: string;
  created_at: string;
  updated_at: string;
}

/** One OAuth session: access tokens carry its id (`jti`), refresh tokens rotate on it. */
export interface OAuthTokenTable {
  id: string;
  did: string;
  client_id: string;
  client_auth: string;
  device_id: string | null;
  /** JSON: the authorization request parameters the session was granted with. */
  parameters: string;
  scope: string;
  /** The JWK thumbprint of the DPoP key every use must prove. */
  dpop_jkt: string;
  /** The authorization code it was exchanged for; a second exchange of it revokes the session. */
  code: string | null;
  /** The current refresh token. */
  refresh_token: string | null;
  created_at: string;
  updated_at: string;
  /** When the session ends, whatever the refreshes. */
  expires_at: string;
}

/** A refresh token rotated away; presented again, it revokes its session. */
export interface OAuthUsedRefreshTokenTable {
  refresh_token: string;
  token_id: string;
}

/** Ids (DPoP proof `jti`s, client assertion `jti`s) seen recently, for replay checks through the database. */
export interface OAuthReplayTable {
  key: string;
  expires_at: string;
}

/** One action of an admin or the moderation service, newest last (src/admin/log.ts). */
export interface AdminActionTable {
  id: string;
  created_at: string;
  /** "admin", or the moderation service's DID. */
  actor: string;
  /** e.g. takedown, untakedown, reset-password, update-handle, update-email, delete-account, disable-invites, send-email. */
  action: string;
  /** "account", "record", "blob" or "invite". */
  subject_type: string;
  /** The DID, at-uri, blob CID or invite code acted on. */
  subject: string;
  /** The account the subject belongs to, when there is one. */
  subject_did: string | null;
  /** JSON: what was set (takedown ref, new handle, ...), never a secret. */
  detail: string | null;
}

export interface DatabaseSchema {
  account: AccountTable;
  app_password: AppPasswordTable;
  refresh_token: RefreshTokenTable;
  invite_code: InviteCodeTable;
  invite_code_use: InviteCodeUseTable;
  repo_root: RepoRootTable;
  repo_block: RepoBlockTable;
  record: RecordTable;
  blob: BlobTable;
  record_blob: RecordBlobTable;
  repo_seq: RepoSeqTable;
  cache_entry: CacheEntryTable;
  account_pref: AccountPrefTable;
  email_token: EmailTokenTable;
  deleted_account: DeletedAccountTable;
  reserved_signing_key: ReservedSigningKeyTable;
  oauth_request: OAuthRequestTable;
  oauth_device: OAuthDeviceTable;
  oauth_device_account: OAuthDeviceAccountTable;
  oauth_authorized_client: OAuthAuthorizedClientTable;
  oauth_token: OAuthTokenTable;
  oauth_used_refresh_token: OAuthUsedRefreshTokenTable;
  oauth_replay: OAuthReplayTable;
  admin_action: AdminActionTable;
}

export type TableName = keyof DatabaseSchema;
export type Row<T extends TableName> = Selectable<DatabaseSchema[T]>;
export type NewRow<T extends TableName> = Insertable<DatabaseSchema[T]>;
export type RowUpdate<T extends TableName> = Updateable<DatabaseSchema[T]>;
