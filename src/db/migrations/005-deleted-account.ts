import type { Migration } from "./types";

/**
 * Tombstones of deleted accounts: the DID only (its handle and email become
 * free), so nothing on this server can bring a deleted DID back by accident.
 */
export const deletedAccount: Migration = {
  async up(db) {
    await db.schema
      .createTable("deleted_account")
      .addColumn("did", "text", (c) => c.primaryKey())
      .addColumn("deleted_at", "text", (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("deleted_account").execute();
  },
};
