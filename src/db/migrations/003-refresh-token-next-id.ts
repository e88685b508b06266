import type { Migration } from "./types";

/**
 * Logging out follows a session's rotation chain back through `next_id`
 * (which token was rotated into this one), and revoking an app password
 * follows it forward; without an index each step scans every session.
 */
export const refreshTokenNextId: Migration = {
  async up(db) {
    await db.schema.createIndex("refresh_token_next_id_idx").on("refresh_token").column("next_id").execute();
  },
  async down(db) {
    await db.schema.dropIndex("refresh_token_next_id_idx").execute();
  },
};
