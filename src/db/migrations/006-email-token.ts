import type { Migration } from "./types";

/**
 * Email tokens (confirm email, change email, reset password, delete account,
 * PLC operations, sign-in codes): one row per account and purpose, holding
 * the SHA-256 of the token, never the token. resetPassword finds the account
 * by the hash alone, hence the second index. Accounts gain the email
 * two-factor flag (updateEmail's `emailAuthFactor`).
 */
export const emailToken: Migration = {
  async up(db) {
    await db.schema
      .createTable("email_token")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("token_hash", "text", (c) => c.notNull())
      .addColumn("requested_at", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("email_token_pkey", ["did", "purpose"])
      .execute();
    await db.schema.createIndex("email_token_purpose_hash_idx").on("email_token").columns(["purpose", "token_hash"]).execute();
    await db.schema.alterTable("account").addColumn("email_auth_factor", "integer", (c) => c.notNull().defaultTo(0)).execute();
  },
  async down(db) {
    await db.schema.alterTable("account").dropColumn("email_auth_factor").execute();
    await db.schema.dropTable("email_token").execute();
  },
};
