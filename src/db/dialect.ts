import { type ColumnDataType, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely, sql } from "kysely";
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

/**
 * The highest value the database has handed out for the serial primary key
 * `table.column` (0 when none): what it reserves, which may be above the
 * largest row left. PostgreSQL: the identity sequence; SQLite: sqlite_sequence.
 * Read-only, so it runs inside a snapshot.
 */
export async function serialPosition(db: Kysely<any>, dialect: DialectName, table: string, column: string): Promise<number> {
  const { rows } =
    dialect === "postgres"
      ? await sql<{ v: number | string | null }>`select pg_sequence_last_value(pg_get_serial_sequence(${table}::text, ${column}::text)::regclass) as v`.execute(db)
      : await sql<{ v: number | null }>`select seq as v from sqlite_sequence where name = ${table}`.execute(db);
  return Number(rows[0]?.v ?? 0);
}

/**
 * Move the serial primary key `table.column` on so its next value is above
 * `value`, never back: rows inserted with explicit keys (a data move) do not
 * advance PostgreSQL's identity sequence, and a reused event number would
 * break relays' cursors. SQLite's AUTOINCREMENT follows explicit keys by
 * itself; its counter is still raised to `value` when the source had handed
 * out more than it kept.
 */
export async function advanceSerial(db: Kysely<any>, dialect: DialectName, table: string, column: string, value: number): Promise<void> {
  const target = Math.max(value, await serialPosition(db, dialect, table, column));
  if (target < 1) return;
  if (dialect === "postgres") {
    await sql`select setval(pg_get_serial_sequence(${table}::text, ${column}::text), ${target}::bigint, true)`.execute(db);
    return;
  }
  const updated = await sql`update sqlite_sequence set seq = ${target} where name = ${table}`.execute(db);
  if (Number(updated.numAffectedRows ?? 0) === 0) await sql`insert into sqlite_sequence (name, seq) values (${table}, ${target})`.execute(db);
}
