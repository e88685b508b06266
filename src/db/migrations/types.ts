import type { Kysely } from "kysely";
import type { DialectTypes } from "@/db/dialect";

/**
 * One numbered migration. `db` is untyped on purpose: a migration sees the
 * schema as it was when the migration was written, not today's
 * `DatabaseSchema`. Column types that differ by dialect come from `types`.
 */
export interface Migration {
  up(db: Kysely<any>, types: DialectTypes): Promise<void>;
  down(db: Kysely<any>, types: DialectTypes): Promise<void>;
}
