import type { Migration } from "./types";

/**
 * Account preferences (app.bsky.actor.getPreferences / putPreferences), one
 * row per preference in the order the client put them. The primary key is
 * also the read path: one account's preferences, in order.
 */
export const accountPref: Migration = {
  async up(db) {
    await db.schema
      .createTable("account_pref")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("position", "integer", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("value_json", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("account_pref_pkey", ["did", "position"])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("account_pref").execute();
  },
};
