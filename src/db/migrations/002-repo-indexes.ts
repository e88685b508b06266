import type { Migration } from "./types";

/**
 * Indexes the repository write path needs at scale: after each commit it asks
 * whether a removed record block is still used by another record of the same
 * repository (identical records share a block), which without this index
 * scans every record of the repository.
 */
export const repoIndexes: Migration = {
  async up(db) {
    await db.schema.createIndex("record_did_cid_idx").on("record").columns(["did", "cid"]).execute();
  },
  async down(db) {
    await db.schema.dropIndex("record_did_cid_idx").execute();
  },
};
