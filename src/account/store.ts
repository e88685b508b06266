import { sql } from "kysely";
import type { AccountStatus } from "@/auth/types";
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

/** An account row's hosting status. Taken down outranks deactivated: it stays so whatever the owner does. */
export function hostingStatus(row: Pick<AccountRow, "deactivated_at" | "takedown_ref">): AccountStatus {
  return row.takedown_ref ? "takendown" : row.deactivated_at ? "deactivated" : "active";
}

/** Hosting status as getSession and createSession report it. */
export function accountStatus(row: AccountRow): { active: boolean; status?: "takendown" | "deactivated" } {
  const status = hostingStatus(row);
  return status === "active" ? { active: true } : { active: false, status };
}
