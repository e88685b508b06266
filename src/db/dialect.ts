import type { ColumnDataType, ColumnDefinitionBuilder, CreateTableBuilder } from "kysely";
import type { DatabasePlugin } from "@/contracts/db";

export type DialectName = DatabasePlugin["dialect"];

/**
 * Everything that differs between SQLite and PostgreSQL in the schema, in one
 * place. Queries need nothing here: Kysely's `onConflict`, `returning` and
 * `lower()` expression indexes are the same on both.
 */
export interface DialectTypes {
  readonly name: DialectName;
  /** Raw bytes: `bytea` / `blob`. */
  readonly bytes: ColumnDataType;
  /** 64-bit integer: `bigint` / `integer` (SQLite integers are 64-bit). */
  readonly bigint: ColumnDataType;
  /**
   * Add an auto-increment 64-bit primary key whose values are never reused,
   * even after the newest rows are deleted (firehose cursors rely on that).
   */
  serialPrimaryKey<T extends string, C extends string>(
    table: CreateTableBuilder<T, C>,
    column: string,
  ): CreateTableBuilder<T, C>;
}

const postgresTypes: DialectTypes = {
  name: "postgres",
  bytes: "bytea",
  bigint: "bigint",
  serialPrimaryKey: (table, column) =>
    table.addColumn(column, "bigint", (c: ColumnDefinitionBuilder) => c.generatedByDefaultAsIdentity().primaryKey()),
};

const sqliteTypes: DialectTypes = {
  name: "sqlite",
  bytes: "blob",
  bigint: "integer",
  // AUTOINCREMENT (not just INTEGER PRIMARY KEY) is what forbids reuse of deleted ids.
  serialPrimaryKey: (table, column) =>
    table.addColumn(column, "integer", (c: ColumnDefinitionBuilder) => c.primaryKey().autoIncrement()),
};

export function dialectTypes(dialect: DialectName): DialectTypes {
  return dialect === "postgres" ? postgresTypes : sqliteTypes;
}
