import { sql } from "kysely";
import type { Migration } from "./types";

/** Every table of src/db/schema.ts as first released. */
export const initial: Migration = {
  async up(db, t) {
    await db.schema
      .createTable("account")
      .addColumn("did", "text", (c) => c.primaryKey().notNull())
      .addColumn("handle", "text")
      .addColumn("email", "text")
      .addColumn("email_confirmed_at", "text")
      .addColumn("password_hash", "text")
      .addColumn("signing_key", t.bytes, (c) => c.notNull())
      .addColumn("invites_disabled", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("deactivated_at", "text")
      .addColumn("delete_after", "text")
      .addColumn("takedown_ref", "text")
      .execute();
    // Expression indexes: handles and emails are unique whatever their case.
    await db.schema.createIndex("account_handle_lower_idx").on("account").unique().expression(sql`lower(handle)`).execute();
    await db.schema.createIndex("account_email_lower_idx").on("account").unique().expression(sql`lower(email)`).execute();

    await db.schema
      .createTable("app_password")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("password_hash", "text", (c) => c.notNull())
      .addColumn("privileged", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("app_password_pkey", ["did", "name"])
      .execute();

    await db.schema
      .createTable("refresh_token")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("expires_at", "text", (c) => c.notNull())
      .addColumn("app_password_name", "text")
      .addColumn("next_id", "text")
      .execute();
    await db.schema.createIndex("refresh_token_did_idx").on("refresh_token").column("did").execute();
    await db.schema.createIndex("refresh_token_expires_idx").on("refresh_token").column("expires_at").execute();

    await db.schema
      .createTable("invite_code")
      .addColumn("code", "text", (c) => c.primaryKey().notNull())
      .addColumn("available_uses", "integer", (c) => c.notNull())
      .addColumn("disabled", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("for_account", "text", (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("created_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("invite_code_for_account_idx").on("invite_code").column("for_account").execute();

    await db.schema
      .createTable("invite_code_use")
      .addColumn("code", "text", (c) => c.notNull())
      .addColumn("used_by", "text", (c) => c.notNull())
      .addColumn("used_at", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("invite_code_use_pkey", ["code", "used_by"])
      .execute();
    await db.schema.createIndex("invite_code_use_used_by_idx").on("invite_code_use").column("used_by").execute();

    await db.schema
      .createTable("repo_root")
      .addColumn("did", "text", (c) => c.primaryKey().notNull())
      .addColumn("cid", "text", (c) => c.notNull())
      .addColumn("rev", "text", (c) => c.notNull())
      .addColumn("indexed_at", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("repo_block")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("cid", "text", (c) => c.notNull())
      .addColumn("rev", "text", (c) => c.notNull())
      .addColumn("size", "integer", (c) => c.notNull())
      .addColumn("content", t.bytes, (c) => c.notNull())
      .addPrimaryKeyConstraint("repo_block_pkey", ["did", "cid"])
      .execute();
    // getRepo `since` and export in revision order.
    await db.schema.createIndex("repo_block_did_rev_idx").on("repo_block").columns(["did", "rev"]).execute();

    await db.schema
      .createTable("record")
      .addColumn("uri", "text", (c) => c.primaryKey().notNull())
      .addColumn("cid", "text", (c) => c.notNull())
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("collection", "text", (c) => c.notNull())
      .addColumn("rkey", "text", (c) => c.notNull())
      .addColumn("rev", "text", (c) => c.notNull())
      .addColumn("indexed_at", "text", (c) => c.notNull())
      .addColumn("takedown_ref", "text")
      .execute();
    // listRecords pages by rkey within one collection; describeRepo lists collections.
    await db.schema
      .createIndex("record_did_collection_rkey_idx")
      .on("record")
      .unique()
      .columns(["did", "collection", "rkey"])
      .execute();
    await db.schema.createIndex("record_did_rev_idx").on("record").columns(["did", "rev"]).execute();

    await db.schema
      .createTable("blob")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("cid", "text", (c) => c.notNull())
      .addColumn("mime_type", "text", (c) => c.notNull())
      .addColumn("size", t.bigint, (c) => c.notNull())
      .addColumn("temp_key", "text")
      .addColumn("width", "integer")
      .addColumn("height", "integer")
      .addColumn("created_at", "text", (c) => c.notNull())
      .addColumn("takedown_ref", "text")
      .addPrimaryKeyConstraint("blob_pkey", ["did", "cid"])
      .execute();
    // The sweeper looks only at temporary blobs, oldest first.
    await db.schema
      .createIndex("blob_temp_created_idx")
      .on("blob")
      .column("created_at")
      .where(sql.ref("temp_key"), "is not", null)
      .execute();

    await db.schema
      .createTable("record_blob")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("blob_cid", "text", (c) => c.notNull())
      .addColumn("record_uri", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("record_blob_pkey", ["did", "blob_cid", "record_uri"])
      .execute();
    await db.schema.createIndex("record_blob_record_uri_idx").on("record_blob").column("record_uri").execute();

    await t
      .serialPrimaryKey(db.schema.createTable("repo_seq"), "seq")
      .addColumn("did", "text", (c) => c.notNull())
      .addColumn("event_type", "text", (c) => c.notNull())
      .addColumn("event", t.bytes, (c) => c.notNull())
      .addColumn("invalidated", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("sequenced_at", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("repo_seq_did_idx").on("repo_seq").column("did").execute();
    // The backfill window (OutdatedCursor) is found by time.
    await db.schema.createIndex("repo_seq_sequenced_at_idx").on("repo_seq").column("sequenced_at").execute();

    await db.schema
      .createTable("cache_entry")
      .addColumn("key", "text", (c) => c.primaryKey().notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("expires_at", "text")
      .execute();
    await db.schema.createIndex("cache_entry_expires_idx").on("cache_entry").column("expires_at").execute();
  },

  async down(db) {
    for (const table of [
      "cache_entry",
      "repo_seq",
      "record_blob",
      "blob",
      "record",
      "repo_block",
      "repo_root",
      "invite_code_use",
      "invite_code",
      "refresh_token",
      "app_password",
      "account",
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
};
