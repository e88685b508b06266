import { isUniqueViolation } from "@/db/errors";
import { InvalidRequestError } from "@/errors";
import type { AccountDeps } from "./deps";
import { generateAppPassword, hashAppPassword } from "./passwords";

/** com.atproto.server.createAppPassword#appPassword: the password is shown this once. */
export interface CreatedAppPassword {
  name: string;
  password: string;
  createdAt: string;
  privileged: boolean;
}

export interface AppPasswordView {
  name: string;
  createdAt: string;
  privileged: boolean;
}

export async function createAppPassword(deps: AccountDeps, did: string, name: string, privileged: boolean): Promise<CreatedAppPassword> {
  const trimmed = name.trim();
  if (trimmed === "") throw new InvalidRequestError("App password name must not be empty");
  const password = generateAppPassword();
  const createdAt = new Date().toISOString();
  try {
    await deps.db
      .db()
      .insertInto("app_password")
      .values({ did, name: trimmed, password_hash: await hashAppPassword(did, password), privileged: privileged ? 1 : 0, created_at: createdAt })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err)) throw new InvalidRequestError(`An app password named "${trimmed}" already exists`);
    throw err;
  }
  return { name: trimmed, password, createdAt, privileged };
}

export async function listAppPasswords(deps: AccountDeps, did: string): Promise<AppPasswordView[]> {
  const rows = await deps.db
    .db()
    .selectFrom("app_password")
    .select(["name", "created_at", "privileged"])
    .where("did", "=", did)
    .orderBy("created_at", "desc")
    .execute();
  return rows.map((r) => ({ name: r.name, createdAt: r.created_at, privileged: r.privileged === 1 }));
}

/** Delete the app password and, in the same transaction, every session opened with it. */
export async function revokeAppPassword(deps: AccountDeps, did: string, name: string): Promise<void> {
  const revoked = await deps.db.transaction(async (tx) => {
    await tx.deleteFrom("app_password").where("did", "=", did).where("name", "=", name).execute();
    return deps.sessions.revokeAppPassword(tx, did, name);
  });
  await deps.sessions.forget(revoked);
}
