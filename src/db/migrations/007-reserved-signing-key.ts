import type { Migration } from "./types";

/**
 * Signing keys reserved ahead of an account (reserveSigningKey, for moving an
 * existing DID here): sealed like account keys, found by their did:key or by
 * the DID they were reserved for. `for_did` is not named `did` on purpose: a
 * reservation is not an account's data, and account deletion leaves it alone.
 */
export const reservedSigningKey: Migration = {
  async up(db, t) {
    await db.schema
      .createTable("reserved_signing_key")
      .addColumn("key_did", "text", (c) => c.primaryKey().notNull())
      .addColumn("for_did", "text")
      .addColumn("signing_key", t.bytes, (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("reserved_signing_key_for_did_idx").on("reserved_signing_key").unique().column("for_did").execute();
  },
  async down(db) {
    await db.schema.dropTable("reserved_signing_key").execute();
  },
};
