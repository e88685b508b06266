import type { Migration } from "./types";

/**
 * The moderation and administration log (src/admin/log.ts): one row per
 * action an admin or the moderation service took (takedowns, password
 * resets, handle and email changes, deletions, invite changes, mail sent).
 * `subject_did` is not named `did` on purpose: the log outlives the account
 * it is about, so account deletion leaves it alone.
 */
export const adminAction: Migration = {
  async up(db) {
    await db.schema
      .createTable("admin_action")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("action", "text", (c) => c.notNull())
      .addColumn("subject_type", "text", (c) => c.notNull())
      .addColumn("subject", "text", (c) => c.notNull())
      .addColumn("subject_did", "text")
      .addColumn("detail", "text")
      .execute();
    await db.schema.createIndex("admin_action_created_at_idx").on("admin_action").column("created_at").execute();
    await db.schema.createIndex("admin_action_subject_did_idx").on("admin_action").columns(["subject_did", "created_at"]).execute();
  },
  async down(db) {
    await db.schema.dropTable("admin_action").execute();
  },
};
