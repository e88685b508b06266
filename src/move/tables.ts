import { type RawBuilder, type SqlBool, sql } from "kysely";
import type { Row, TableName } from "@/db/schema";
import { CHECKPOINT_PREFIX } from "./checkpoint";

/** How one table is copied. */
export interface TableSpec<T extends TableName = TableName> {
  readonly name: T;
  /** Primary-key columns, in index order: the keyset the copy pages by and resumes after. */
  readonly key: readonly (keyof Row<T> & string)[];
  /** A key column whose values the database assigns (repo_seq.seq): after the copy the target's counter is moved past them. */
  readonly serial?: keyof Row<T> & string;
}

const spec = <T extends TableName>(name: T, key: TableSpec<T>["key"], serial?: TableSpec<T>["serial"]): TableSpec<T> => ({
  name,
  key,
  serial,
});

/**
 * Every table of the schema, keyed by name, so leaving one out is a type
 * error (test/move/tables.test.ts also compares it with a migrated database).
 */
const SPECS: { readonly [T in TableName]: TableSpec<T> } = {
  account: spec("account", ["did"]),
  app_password: spec("app_password", ["did", "name"]),
  refresh_token: spec("refresh_token", ["id"]),
  invite_code: spec("invite_code", ["code"]),
  invite_code_use: spec("invite_code_use", ["code", "used_by"]),
  account_pref: spec("account_pref", ["did", "position"]),
  email_token: spec("email_token", ["did", "purpose"]),
  deleted_account: spec("deleted_account", ["did"]),
  reserved_signing_key: spec("reserved_signing_key", ["key_did"]),
  repo_root: spec("repo_root", ["did"]),
  repo_block: spec("repo_block", ["did", "cid"]),
  record: spec("record", ["uri"]),
  record_blob: spec("record_blob", ["did", "blob_cid", "record_uri"]),
  blob: spec("blob", ["did", "cid"]),
  repo_seq: spec("repo_seq", ["seq"], "seq"),
  oauth_request: spec("oauth_request", ["id"]),
  oauth_device: spec("oauth_device", ["id"]),
  oauth_device_account: spec("oauth_device_account", ["device_id", "did"]),
  oauth_authorized_client: spec("oauth_authorized_client", ["did", "client_id"]),
  oauth_token: spec("oauth_token", ["id"]),
  oauth_used_refresh_token: spec("oauth_used_refresh_token", ["refresh_token"]),
  oauth_replay: spec("oauth_replay", ["key"]),
  admin_action: spec("admin_action", ["id"]),
  cache_entry: spec("cache_entry", ["key"]),
};

/**
 * The copy order. There are no foreign keys, so any order is correct; accounts
 * go first so an interrupted copy always leaves a target the emptiness check
 * refuses, and the big repository tables sit together in the middle.
 */
export const TABLES: readonly TableSpec[] = Object.values(SPECS) as TableSpec[];

/** The spec of one table. */
export function tableSpec<T extends TableName>(name: T): TableSpec<T> {
  return SPECS[name] as TableSpec<T>;
}

/**
 * Rows that are not moved, as a condition the moved rows meet. Unfinished
 * uploads (`temp_key` set): their bytes sit in the source's temporary area,
 * which the blob-store contract cannot read, and no record references them
 * yet (the client uploads again). The mover's own checkpoints.
 */
export const MOVED_ROWS: Partial<Record<TableName, RawBuilder<SqlBool>>> = {
  blob: sql<SqlBool>`temp_key is null`,
  cache_entry: sql<SqlBool>`${sql.ref("key")} not like ${`${CHECKPOINT_PREFIX}%`}`,
};
