import type { Plugin } from "./plugin";

/**
 * Database backend (plugins/db-sqlite, plugins/db-postgres). The core owns
 * the schema and the queries; a database plugin supplies the driver and the
 * dialect-specific pieces.
 */
export interface DatabasePlugin extends Plugin<"db"> {
  readonly dialect: "sqlite" | "postgres";
  /** Several server processes may share this database (nodes > 1). */
  readonly shared: boolean;
}
