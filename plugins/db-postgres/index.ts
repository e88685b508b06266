import postgresjs from "postgres";
import type { DatabasePlugin } from "@/contracts/db";
import { PluginError } from "@/errors";
import { redactUrl } from "@/config/redact";

export interface PostgresOptions {
  /** Connection URL, e.g. `postgresql://user:pass@host:5432/db` (DATABASE_URL). */
  url: string;
  /** Pool size (POSTGRES_MAX_CONNECTIONS). @default 100 */
  maxConnections?: number;
  /** Connections kept open when idle (POSTGRES_MIN_CONNECTIONS). @default 10 */
  minConnections?: number;
  /** Seconds to wait for a new connection (POSTGRES_CONNECT_TIMEOUT). @default 30 */
  connectTimeout?: number;
  /** Seconds before a connection is recycled (POSTGRES_MAX_LIFETIME). @default 1800 */
  maxLifetime?: number;
  /** Seconds an idle connection above the minimum is kept (POSTGRES_IDLE_TIMEOUT). @default 600 */
  idleTimeout?: number;
}

/** PostgreSQL through postgres.js; safe for many nodes sharing one database. */
export function postgres(options: PostgresOptions): DatabasePlugin {
  const name = "db-postgres";
  let sql: postgresjs.Sql | undefined;

  return {
    kind: "db",
    name,
    dialect: "postgres",
    shared: true,
    async init() {
      sql = postgresjs(options.url, {
        max: options.maxConnections ?? 100,
        connect_timeout: options.connectTimeout ?? 30,
        max_lifetime: options.maxLifetime ?? 1800,
        idle_timeout: options.idleTimeout ?? 600,
        onnotice: () => {},
      });
      try {
        await sql`SELECT 1`;
      } catch (cause) {
        throw new PluginError(name, `cannot connect: ${(cause as Error).message}`, { cause, unavailable: true });
      }
    },
    async health() {
      if (!sql) throw new PluginError(name, "not initialised", { unavailable: true });
      try {
        await sql`SELECT 1`;
      } catch (cause) {
        throw new PluginError(name, `unreachable: ${(cause as Error).message}`, { cause, unavailable: true });
      }
    },
    describe: () => ({
      url: redactUrl(options.url),
      maxConnections: options.maxConnections ?? 100,
      minConnections: options.minConnections ?? 10,
      connectTimeout: options.connectTimeout ?? 30,
      maxLifetime: options.maxLifetime ?? 1800,
      idleTimeout: options.idleTimeout ?? 600,
    }),
    async close() {
      await sql?.end({ timeout: 5 });
      sql = undefined;
    },
  };
}
