import { randomBytes } from "node:crypto";
import { hostingStatus } from "@/account/store";
import type { CacheAside } from "@/cache/aside";
import type { Db, DbTransaction } from "@/contracts/db";
import { prepared } from "@/db/prepared";
import { ACCESS_TTL_SECONDS, type AccessScope, SCOPE, type TokenSigner } from "./tokens";
import type { AccountStatus } from "./types";

/** How long a rotated refresh token keeps working, for a client that lost the answer to its refresh. */
export const REFRESH_GRACE_MS = 10 * 60 * 1000;

/** How long past its expiry a refresh-token row is kept, for nodes whose clocks disagree. */
const TIDY_MARGIN_MS = 60 * 60 * 1000;

/** Rotations within one grace window that a logout follows back; more would need a client refreshing in a tight loop. */
const MAX_CHAIN = 16;

export interface SessionTokens {
  accessJwt: string;
  refreshJwt: string;
}

/** The app password a session was opened with, or null for a full (password) session. */
export type AppPasswordGrant = { name: string; privileged: boolean } | null;

/** A live session as access-token checks see it. */
export interface SessionInfo {
  did: string;
  appPasswordName: string | null;
  /** ISO time after which the session (and its access tokens) no longer work. */
  expiresAt: string;
  /** The account's hosting status, read with the session; null when the account is gone. */
  status: AccountStatus | null;
}

/** An OAuth session (`oauth_token`) as the resource server checks it. */
export interface OAuthSessionInfo {
  did: string;
  clientId: string;
  scope: string;
  /** The DPoP key thumbprint the session is bound to. */
  dpopJkt: string;
  expiresAt: string;
  status: AccountStatus | null;
}

/** Cache keys of OAuth sessions, beside the password sessions' in the `session` category. */
export const oauthKey = (tokenId: string) => `oauth:${tokenId}`;

/**
 * Sessions are rows of `refresh_token`, one per refresh JWT; every node reads
 * the same rows, so a revocation holds everywhere at once. Access-token
 * checks read the row through the `session` cache category when the cache
 * is coherent across nodes (see `cacheLookups`); every revocation and
 * rotation drops the cached row after its transaction commits. A shared
 * cache that is unreachable at that moment drops the invalidation too; the
 * entry then lives out CACHE_SESSION_TTL (the guide's 10 minutes).
 */
export interface SessionStore {
  /**
   * Open a session. Inside `tx` when given (account creation), else on its own. `takendown`: the
   * reference's limited session of a taken-down account (scope `com.atproto.takendown`), good for one
   * access token's lifetime; its refresh token names no stored row, so it can be neither rotated nor
   * used to log out (as the reference, which stores none).
   */
  open(did: string, grant: AppPasswordGrant, tx?: DbTransaction, opts?: { takendown?: boolean }): Promise<SessionTokens>;
  /**
   * Rotate a refresh token: new tokens, and the old one keeps working for
   * REFRESH_GRACE_MS (answering with the same successor). Null when the
   * token is unknown, revoked or past its time.
   */
  rotate(tokenId: string): Promise<(SessionTokens & { did: string }) | null>;
  /** The live session of an access token, or null when revoked or expired. */
  lookup(sessionId: string): Promise<SessionInfo | null>;
  revoke(tokenId: string): Promise<void>;
  /**
   * Revoke the sessions opened with one app password, and successors of theirs that a concurrent
   * refresh created meanwhile; run inside the transaction that deletes the app password.
   */
  revokeAppPassword(tx: DbTransaction, did: string, name: string): Promise<string[]>;
  /** Drop cached rows after the transaction that revoked them committed. */
  forget(tokenIds: readonly string[]): Promise<void>;
  /**
   * Drop the cached sessions of one account: whatever changes an account's
   * status (takedown, deactivation, activation) calls this after committing,
   * so every node sees the new status at the next request.
   */
  forgetAccount(did: string): Promise<void>;
  /**
   * The live OAuth session an OAuth access token names (its `jti`), read like
   * `lookup` (cached under the same rules, with the account's status); null
   * when revoked or past its time.
   */
  lookupOAuth(tokenId: string): Promise<OAuthSessionInfo | null>;
  /** Drop a revoked or rotated OAuth session's cached row (after its transaction committed). */
  forgetOAuth(tokenId: string): Promise<void>;
  /** The account's hosting status straight from the database (refresh tokens carry no session read); null when gone. */
  accountStatus(did: string): Promise<AccountStatus | null>;
}

/** A session with its account's status, compiled once (src/db/prepared.ts): every authenticated request runs it on a cache miss. */
const sessionQuery = prepared<
  { id: string },
  { did: string; app_password_name: string | null; expires_at: string; account_did: string | null; deactivated_at: string | null; takedown_ref: string | null }
>((db, $) =>
  db
    .selectFrom("refresh_token")
    .leftJoin("account", "account.did", "refresh_token.did")
    .select(["refresh_token.did", "refresh_token.app_password_name", "refresh_token.expires_at", "account.did as account_did", "account.deactivated_at", "account.takedown_ref"])
    .where("refresh_token.id", "=", $("id")),
);

/** The same for an OAuth session. */
const oauthSessionQuery = prepared<
  { id: string },
  {
    did: string;
    client_id: string;
    scope: string;
    dpop_jkt: string;
    expires_at: string;
    account_did: string | null;
    deactivated_at: string | null;
    takedown_ref: string | null;
  }
>((db, $) =>
  db
    .selectFrom("oauth_token")
    .leftJoin("account", "account.did", "oauth_token.did")
    .select(["oauth_token.did", "oauth_token.client_id", "oauth_token.scope", "oauth_token.dpop_jkt", "oauth_token.expires_at", "account.did as account_did", "account.deactivated_at", "account.takedown_ref"])
    .where("oauth_token.id", "=", $("id")),
);

export function createSessionStore(deps: {
  db: () => Db;
  transaction: <T>(fn: (tx: DbTransaction) => Promise<T>) => Promise<T>;
  tokens: TokenSigner;
  cached: CacheAside;
  /** Use the cache for lookups: only when every node sees the same cache, or there is one node. */
  cacheLookups: boolean;
}): SessionStore {
  const { tokens, cached } = deps;

  const scopeOf = (grant: AppPasswordGrant): AccessScope =>
    grant === null ? SCOPE.access : grant.privileged ? SCOPE.appPassPrivileged : SCOPE.appPass;

  const readRow = (id: string, q: Db | DbTransaction = deps.db()) =>
    q.selectFrom("refresh_token").selectAll().where("id", "=", id).executeTakeFirst();

  // The account's status comes in the same query (and cache entry) as the session: no extra round trip per request.
  const loadSession = async (id: string): Promise<SessionInfo | null> => {
    const [row] = await sessionQuery.rows(deps.db(), { id });
    if (!row) return null;
    const status = row.account_did === null ? null : hostingStatus(row);
    return { did: row.did, appPasswordName: row.app_password_name, expiresAt: row.expires_at, status };
  };

  const forget = async (ids: readonly string[]) => {
    if (!deps.cacheLookups) return;
    await Promise.all(ids.map((id) => cached.invalidate("session", id)));
  };

  const grantOf = async (did: string, name: string | null): Promise<AppPasswordGrant | undefined> => {
    if (name === null) return null;
    const row = await deps
      .db()
      .selectFrom("app_password")
      .select("privileged")
      .where("did", "=", did)
      .where("name", "=", name)
      .executeTakeFirst();
    // The app password is gone: its sessions are revoked with it.
    return row ? { name, privileged: row.privileged === 1 } : undefined;
  };

  return {
    async open(did, grant, tx, opts) {
      const id = newTokenId();
      const signed = opts?.takendown
        ? await tokens.sign({ did, scope: SCOPE.takendown, sessionId: id, refreshExp: Math.floor(Date.now() / 1000) + ACCESS_TTL_SECONDS, refreshJti: newTokenId() })
        : await tokens.sign({ did, scope: scopeOf(grant), sessionId: id });
      const row = { id, did, expires_at: new Date(signed.refreshExp * 1000).toISOString(), app_password_name: grant?.name ?? null, next_id: null };
      await (tx ?? deps.db()).insertInto("refresh_token").values(row).execute();
      return { accessJwt: signed.accessJwt, refreshJwt: signed.refreshJwt };
    },

    async rotate(tokenId) {
      for (let attempt = 0; attempt < 3; attempt++) {
        const row = await readRow(tokenId);
        const now = Date.now();
        if (!row || Date.parse(row.expires_at) <= now) return null;
        const grant = await grantOf(row.did, row.app_password_name);
        if (grant === undefined) return null;
        const graceEnd = new Date(Math.min(Date.parse(row.expires_at), now + REFRESH_GRACE_MS)).toISOString();
        const nextId = row.next_id ?? newTokenId();
        const signed = await tokens.sign({ did: row.did, scope: scopeOf(grant), sessionId: nextId });
        if (row.next_id !== null) {
          // A retry within the grace window gets the same successor, unless that session was revoked meanwhile.
          if (!(await readRow(row.next_id))) return null;
          return { did: row.did, accessJwt: signed.accessJwt, refreshJwt: signed.refreshJwt };
        }
        const claimed = await deps.transaction(async (tx) => {
          // Compare-and-set: of two concurrent rotations (on any nodes) one wins; the other retries and reuses its successor.
          const set = await tx
            .updateTable("refresh_token")
            .set({ next_id: nextId, expires_at: graceEnd })
            .where("id", "=", tokenId)
            .where("next_id", "is", null)
            .executeTakeFirst();
          if (Number(set.numUpdatedRows) === 0) return false;
          await tx
            .insertInto("refresh_token")
            .values({
              id: nextId,
              did: row.did,
              expires_at: new Date(signed.refreshExp * 1000).toISOString(),
              app_password_name: row.app_password_name,
              next_id: null,
            })
            .execute();
          return true;
        });
        if (!claimed) continue;
        await forget([tokenId]);
        // Best effort tidy-up of this account's dead rows: dead for a while, so a node whose clock is ahead
        // does not delete a predecessor other nodes still count in its grace window.
        const longDead = new Date(now - TIDY_MARGIN_MS).toISOString();
        await deps.db().deleteFrom("refresh_token").where("did", "=", row.did).where("expires_at", "<=", longDead).execute();
        return { did: row.did, accessJwt: signed.accessJwt, refreshJwt: signed.refreshJwt };
      }
      return null;
    },

    async lookup(sessionId) {
      const info = deps.cacheLookups ? await cached.get("session", sessionId, () => loadSession(sessionId)) : await loadSession(sessionId);
      if (!info || Date.parse(info.expiresAt) <= Date.now()) return null;
      return info;
    },

    async revoke(tokenId) {
      // The token and the predecessors still in their grace window: logging out ends the whole chain.
      const chain = [tokenId];
      for (let i = 0, frontier = [tokenId]; i < MAX_CHAIN && frontier.length > 0; i++) {
        const rows = await deps.db().selectFrom("refresh_token").select("id").where("next_id", "in", frontier).execute();
        frontier = rows.map((r) => r.id);
        chain.push(...frontier);
      }
      await deps.db().deleteFrom("refresh_token").where("id", "in", chain).execute();
      await forget(chain);
    },

    async revokeAppPassword(tx, did, name) {
      // By name, then forward along next_id. A rotation committing while this runs (PostgreSQL, READ
      // COMMITTED) inserts a successor the first statement cannot see; the predecessor row it waited for
      // and deleted names it, and the next statement sees it. Each step is a new statement for that reason.
      const deleteWhere = (ids: string[] | null) => {
        const q = tx.deleteFrom("refresh_token").where("did", "=", did);
        return (ids ? q.where("id", "in", ids) : q.where("app_password_name", "=", name)).returning(["id", "next_id"]).execute();
      };
      let rows = await deleteWhere(null);
      const revoked = rows.map((r) => r.id);
      for (let i = 0; i < MAX_CHAIN; i++) {
        const next = rows.flatMap((r) => (r.next_id === null ? [] : [r.next_id]));
        if (next.length === 0) break;
        rows = await deleteWhere(next);
        revoked.push(...rows.map((r) => r.id));
      }
      return revoked;
    },

    forget,

    async forgetAccount(did) {
      if (!deps.cacheLookups) return;
      const rows = await deps.db().selectFrom("refresh_token").select("id").where("did", "=", did).execute();
      const oauth = await deps.db().selectFrom("oauth_token").select("id").where("did", "=", did).execute();
      await forget([...rows.map((r) => r.id), ...oauth.map((r) => oauthKey(r.id))]);
    },

    async lookupOAuth(tokenId) {
      const load = async (): Promise<OAuthSessionInfo | null> => {
        const [row] = await oauthSessionQuery.rows(deps.db(), { id: tokenId });
        if (!row) return null;
        const status = row.account_did === null ? null : hostingStatus(row);
        return { did: row.did, clientId: row.client_id, scope: row.scope, dpopJkt: row.dpop_jkt, expiresAt: row.expires_at, status };
      };
      const info = deps.cacheLookups ? await cached.get("session", oauthKey(tokenId), load) : await load();
      return info && info.expiresAt > new Date().toISOString() ? info : null;
    },

    async forgetOAuth(tokenId) {
      await forget([oauthKey(tokenId)]);
    },

    async accountStatus(did) {
      const row = await deps.db().selectFrom("account").select(["deactivated_at", "takedown_ref"]).where("did", "=", did).executeTakeFirst();
      return row ? hostingStatus(row) : null;
    },
  };
}

/** 256 random bits, URL-safe: the `jti` of a refresh token and the `sid` of its access tokens. */
function newTokenId(): string {
  return randomBytes(32).toString("base64url");
}
