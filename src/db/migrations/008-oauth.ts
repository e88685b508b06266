import type { Migration } from "./types";

/**
 * OAuth (src/oauth/): everything a flow needs lives here, so it may start on
 * one node and finish on another.
 * - `oauth_request`: a pushed authorization request (PAR) until its code is
 *   exchanged; `code` is set once the user consents.
 * - `oauth_device`: a browser, known by its device cookie (only the secret's
 *   hash is kept); `oauth_device_account` the accounts signed in on it.
 * - `oauth_authorized_client`: the scopes an account has consented to per client.
 * - `oauth_token`: one row per OAuth session: its current refresh token, the
 *   DPoP key it is bound to, the code it came from (a code used twice revokes it).
 * - `oauth_used_refresh_token`: refresh tokens already rotated away; presenting
 *   one again revokes its session (reuse detection).
 * - `oauth_replay`: DPoP proof and client assertion ids seen recently, when the
 *   cache is not shared but the database is.
 */
export const oauth: Migration = {
  async up(db) {
    await db.schema
      .createTable("oauth_request")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("client_id", "text", (c) => c.notNull())
      .addColumn("client_auth", "text", (c) => c.notNull())
      .addColumn("parameters", "text", (c) => c.notNull())
      .addColumn("dpop_jkt", "text")
      .addColumn("device_id", "text")
      .addColumn("did", "text")
      .addColumn("code", "text")
      .addColumn("expires_at", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("oauth_request_code_idx").on("oauth_request").unique().column("code").execute();
    await db.schema.createIndex("oauth_request_expires_at_idx").on("oauth_request").column("expires_at").execute();

    await db.schema
      .createTable("oauth_device")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("secret_hash", "text", (c) => c.notNull())
      .addColumn("user_agent", "text")
      .addColumn("ip", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("last_seen_at", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("oauth_device_account")
      .addColumn("device_id", "text", (c) => c.notNull())
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("authenticated_at", "text", (c) => c.notNull())
      .addColumn("remember", "integer", (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("oauth_device_account_pkey", ["device_id", "did"])
      .execute();
    await db.schema.createIndex("oauth_device_account_did_idx").on("oauth_device_account").column("did").execute();

    await db.schema
      .createTable("oauth_authorized_client")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("client_id", "text", (c) => c.notNull())
      .addColumn("scope", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("oauth_authorized_client_pkey", ["did", "client_id"])
      .execute();

    await db.schema
      .createTable("oauth_token")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("client_id", "text", (c) => c.notNull())
      .addColumn("client_auth", "text", (c) => c.notNull())
      .addColumn("device_id", "text")
      .addColumn("parameters", "text", (c) => c.notNull())
      .addColumn("scope", "text", (c) => c.notNull())
      .addColumn("dpop_jkt", "text", (c) => c.notNull())
      .addColumn("code", "text")
      .addColumn("refresh_token", "text")
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("updated_at", "text", (c) => c.notNull())
      .addColumn("expires_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("oauth_token_did_idx").on("oauth_token").column("did").execute();
    await db.schema.createIndex("oauth_token_code_idx").on("oauth_token").unique().column("code").execute();
    await db.schema.createIndex("oauth_token_refresh_token_idx").on("oauth_token").unique().column("refresh_token").execute();

    await db.schema
      .createTable("oauth_used_refresh_token")
      .addColumn("refresh_token", "text", (c) => c.primaryKey().notNull())
      .addColumn("token_id", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("oauth_used_refresh_token_token_id_idx").on("oauth_used_refresh_token").column("token_id").execute();

    await db.schema
      .createTable("oauth_replay")
      .addColumn("key", "text", (c) => c.primaryKey().notNull())
      .addColumn("expires_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("oauth_replay_expires_at_idx").on("oauth_replay").column("expires_at").execute();
  },
  async down(db) {
    for (const table of ["oauth_replay", "oauth_used_refresh_token", "oauth_token", "oauth_authorized_client", "oauth_device_account", "oauth_device", "oauth_request"]) {
      await db.schema.dropTable(table).execute();
    }
  },
};
