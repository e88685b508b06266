import { sql } from "kysely";
import type { Db, DbTransaction } from "@/contracts/db";
import type { Row } from "@/db/schema";

export type AccountRow = Row<"account">;
type Q = Db | DbTransaction;

/** Account reads. Handles and emails are stored lower-case and matched through their `lower()` indexes. */
export function accountByDid(q: Q, did: string): Promise<AccountRow | undefined> {
  return q.selectFrom("account").selectAll().where("did", "=", did).executeTakeFirst();
}

export function accountByHandle(q: Q, handle: string): Promise<AccountRow | undefined> {
  return q.selectFrom("account").selectAll().where(sql<string>`lower(handle)`, "=", handle.toLowerCase()).executeTakeFirst();
}

export function accountByEmail(q: Q, email: string): Promise<AccountRow | undefined> {
  return q.selectFrom("account").selectAll().where(sql<string>`lower(email)`, "=", email.toLowerCase()).executeTakeFirst();
}

/** Login identifiers: an email (has `@`), a DID, or a handle. */
export function accountByIdentifier(q: Q, identifier: string): Promise<AccountRow | undefined> {
  const id = identifier.trim().toLowerCase();
  if (id.includes("@")) return accountByEmail(q, id);
  if (id.startsWith("did:")) return accountByDid(q, identifier.trim());
  return accountByHandle(q, id);
}

/** Hosting status as getSession and createSession report it. */
export function accountStatus(row: AccountRow): { active: boolean; status?: "takendown" | "deactivated" } {
  if (row.takedown_ref) return { active: false, status: "takendown" };
  if (row.deactivated_at) return { active: false, status: "deactivated" };
  return { active: true };
}
