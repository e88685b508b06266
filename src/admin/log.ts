import type { Db, DbTransaction } from "@/contracts/db";

/** One entry of the moderation and administration log. */
export interface AdminActionEntry {
  /** "admin", or the moderation service's DID. */
  actor: string;
  action: string;
  subjectType: "account" | "record" | "blob" | "invite";
  subject: string;
  subjectDid?: string;
  /** What was set (a takedown ref, a new handle): never a password or token. */
  detail?: Record<string, unknown>;
}

export interface AdminActionView extends AdminActionEntry {
  id: string;
  createdAt: string;
}

/** Append to the log, inside the caller's transaction when it has one (so the action and its entry commit together). */
export async function logAdminAction(db: Db | DbTransaction, entry: AdminActionEntry): Promise<void> {
  await db
    .insertInto("admin_action")
    .values({
      id: `act-${Date.now().toString(36)}-${Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex")}`,
      created_at: new Date().toISOString(),
      actor: entry.actor,
      action: entry.action,
      subject_type: entry.subjectType,
      subject: entry.subject,
      subject_did: entry.subjectDid ?? null,
      detail: entry.detail ? JSON.stringify(entry.detail) : null,
    })
    .execute();
}

/** The newest entries first, optionally about one account only. */
export async function recentAdminActions(db: Db, opts: { limit?: number; did?: string } = {}): Promise<AdminActionView[]> {
  let query = db.selectFrom("admin_action").selectAll().orderBy("created_at", "desc").orderBy("id", "desc").limit(Math.min(opts.limit ?? 50, 500));
  if (opts.did) query = query.where("subject_did", "=", opts.did);
  const rows = await query.execute();
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    actor: r.actor,
    action: r.action,
    subjectType: r.subject_type as AdminActionEntry["subjectType"],
    subject: r.subject,
    ...(r.subject_did ? { subjectDid: r.subject_did } : {}),
    ...(r.detail ? { detail: JSON.parse(r.detail) as Record<string, unknown> } : {}),
  }));
}
