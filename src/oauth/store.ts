import type { DatabasePlugin } from "@/contracts/db";
import type { Row } from "@/db/schema";

/** The validated authorization request parameters kept with a request and its session (JSON in the database). */
export interface AuthorizationParameters {
  client_id: string;
  redirect_uri: string;
  scope: string;
  state?: string;
  code_challenge: string;
  code_challenge_method: "S256";
  response_mode: "query" | "fragment";
  login_hint?: string;
  prompt?: string;
}

export type RequestRow = Row<"oauth_request">;
export type TokenRow = Row<"oauth_token">;

/**
 * The OAuth rows in the database: every node reads and writes the same ones,
 * so a flow may start on one node and finish on another. Times are ISO
 * strings, compared as text (they all come from `toISOString()`).
 */
export interface OAuthStore {
  createRequest(row: RequestRow): Promise<void>;
  /** A request that has not expired, or null. */
  getRequest(id: string): Promise<RequestRow | null>;
  /** Tie an unbound request to the browser that opened it; false when another browser already has it. */
  bindDevice(id: string, deviceId: string): Promise<boolean>;
  /** Record the consenting account and the code; the request then lives only as long as the code. */
  issueCode(id: string, did: string, code: string, expiresAt: string): Promise<void>;
  /** Take a live code's request out of the store (one use): null when unknown or expired. */
  takeCode(code: string): Promise<RequestRow | null>;

  createDevice(row: Row<"oauth_device">): Promise<void>;
  getDevice(id: string): Promise<Row<"oauth_device"> | null>;
  touchDevice(id: string, ip: string, userAgent: string | null): Promise<void>;
  /** Accounts signed in on a device, with their handles. */
  deviceAccounts(deviceId: string): Promise<{ did: string; handle: string | null; authenticatedAt: string; remember: boolean }[]>;
  signInOnDevice(deviceId: string, did: string, remember: boolean): Promise<void>;

  /** The scope an account has already granted a client, or null. */
  consentedScope(did: string, clientId: string): Promise<string | null>;
  saveConsent(did: string, clientId: string, scope: string): Promise<void>;

  createToken(row: TokenRow): Promise<void>;
  getToken(id: string): Promise<TokenRow | null>;
  tokenByRefresh(refreshToken: string): Promise<TokenRow | null>;
  /** The session a rotated-away refresh token belonged to, if any. */
  usedRefreshOwner(refreshToken: string): Promise<string | null>;
  /** The session a code was exchanged for, if any (a second exchange revokes it). */
  tokenByCode(code: string): Promise<TokenRow | null>;
  /**
   * Swap the refresh token, only if `previous` is still the current one, and
   * give the session the new id `nextId` (the `jti` of its next access
   * tokens: the ones issued before stop working). The old refresh token is
   * remembered for reuse detection.
   */
  rotateRefresh(id: string, nextId: string, previous: string, next: string, now: string): Promise<boolean>;
  /** End a session and forget its refresh tokens. Returns the DID it belonged to, or null. */
  deleteToken(id: string): Promise<string | null>;
  /** Drop expired requests and sessions (bounded batches). */
  prune(now: string): Promise<void>;
}

export function createOAuthStore(db: DatabasePlugin): OAuthStore {
  const q = () => db.db();
  const now = () => new Date().toISOString();

  return {
    async createRequest(row) {
      await q().insertInto("oauth_request").values(row).execute();
    },
    async getRequest(id) {
      const row = await q().selectFrom("oauth_request").selectAll().where("id", "=", id).where("expires_at", ">", now()).executeTakeFirst();
      return row ?? null;
    },
    async bindDevice(id, deviceId) {
      await q().updateTable("oauth_request").set({ device_id: deviceId }).where("id", "=", id).where("device_id", "is", null).execute();
      const row = await q().selectFrom("oauth_request").select("device_id").where("id", "=", id).executeTakeFirst();
      return row?.device_id === deviceId;
    },
    async issueCode(id, did, code, expiresAt) {
      await q().updateTable("oauth_request").set({ did, code, expires_at: expiresAt }).where("id", "=", id).execute();
    },
    async takeCode(code) {
      return db.transaction(async (tx) => {
        const row = await tx.selectFrom("oauth_request").selectAll().where("code", "=", code).executeTakeFirst();
        if (!row) return null;
        const deleted = await tx.deleteFrom("oauth_request").where("id", "=", row.id).executeTakeFirst();
        // A concurrent exchange of the same code deleted it first: only one wins.
        if (Number(deleted.numDeletedRows) !== 1 || row.expires_at <= now()) return null;
        return row;
      });
    },

    async createDevice(row) {
      await q().insertInto("oauth_device").values(row).execute();
    },
    async getDevice(id) {
      return (await q().selectFrom("oauth_device").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
    },
    async touchDevice(id, ip, userAgent) {
      await q().updateTable("oauth_device").set({ last_seen_at: now(), ip, user_agent: userAgent }).where("id", "=", id).execute();
    },
    async deviceAccounts(deviceId) {
      const rows = await q()
        .selectFrom("oauth_device_account")
        .innerJoin("account", "account.did", "oauth_device_account.did")
        .select(["oauth_device_account.did", "account.handle", "oauth_device_account.authenticated_at", "oauth_device_account.remember"])
        .where("oauth_device_account.device_id", "=", deviceId)
        .orderBy("oauth_device_account.authenticated_at", "desc")
        .limit(20)
        .execute();
      return rows.map((r) => ({ did: r.did, handle: r.handle, authenticatedAt: r.authenticated_at, remember: r.remember === 1 }));
    },
    async signInOnDevice(deviceId, did, remember) {
      const at = now();
      await q()
        .insertInto("oauth_device_account")
        .values({ device_id: deviceId, did, authenticated_at: at, remember: remember ? 1 : 0 })
        .onConflict((oc) => oc.columns(["device_id", "did"]).doUpdateSet({ authenticated_at: at, remember: remember ? 1 : 0 }))
        .execute();
    },

    async consentedScope(did, clientId) {
      const row = await q().selectFrom("oauth_authorized_client").select("scope").where("did", "=", did).where("client_id", "=", clientId).executeTakeFirst();
      return row?.scope ?? null;
    },
    async saveConsent(did, clientId, scope) {
      const at = now();
      await q()
        .insertInto("oauth_authorized_client")
        .values({ did, client_id: clientId, scope, created_at: at, updated_at: at })
        .onConflict((oc) => oc.columns(["did", "client_id"]).doUpdateSet({ scope, updated_at: at }))
        .execute();
    },

    async createToken(row) {
      await q().insertInto("oauth_token").values(row).execute();
    },
    async getToken(id) {
      return (await q().selectFrom("oauth_token").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
    },
    async tokenByRefresh(refreshToken) {
      return (await q().selectFrom("oauth_token").selectAll().where("refresh_token", "=", refreshToken).executeTakeFirst()) ?? null;
    },
    async usedRefreshOwner(refreshToken) {
      const row = await q().selectFrom("oauth_used_refresh_token").select("token_id").where("refresh_token", "=", refreshToken).executeTakeFirst();
      return row?.token_id ?? null;
    },
    async tokenByCode(code) {
      return (await q().selectFrom("oauth_token").selectAll().where("code", "=", code).executeTakeFirst()) ?? null;
    },
    async rotateRefresh(id, nextId, previous, next, at) {
      return db.transaction(async (tx) => {
        const updated = await tx
          .updateTable("oauth_token")
          .set({ id: nextId, refresh_token: next, updated_at: at })
          .where("id", "=", id)
          .where("refresh_token", "=", previous)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) return false;
        await tx.updateTable("oauth_used_refresh_token").set({ token_id: nextId }).where("token_id", "=", id).execute();
        await tx.insertInto("oauth_used_refresh_token").values({ refresh_token: previous, token_id: nextId }).execute();
        return true;
      });
    },
    async deleteToken(id) {
      return db.transaction(async (tx) => {
        const row = await tx.selectFrom("oauth_token").select("did").where("id", "=", id).executeTakeFirst();
        await tx.deleteFrom("oauth_used_refresh_token").where("token_id", "=", id).execute();
        await tx.deleteFrom("oauth_token").where("id", "=", id).execute();
        return row?.did ?? null;
      });
    },
    async prune(at) {
      await q().deleteFrom("oauth_request").where("expires_at", "<", at).execute();
      const expired = await q().selectFrom("oauth_token").select("id").where("expires_at", "<", at).limit(500).execute();
      const ids = expired.map((r) => r.id);
      if (ids.length === 0) return;
      await db.transaction(async (tx) => {
        await tx.deleteFrom("oauth_used_refresh_token").where("token_id", "in", ids).execute();
        await tx.deleteFrom("oauth_token").where("id", "in", ids).execute();
      });
    },
  };
}
