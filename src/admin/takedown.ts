import { hostingStatus } from "@/account/store";
import type { SessionStore } from "@/auth/sessions";
import { BlobNotFoundError, type BlobStorePlugin } from "@/contracts/blob-store";
import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import type { Sequencer } from "@/sequencer/sequencer";
import { logAdminAction } from "./log";
import { type RecordSubject, type StatusAttr, takedownRef } from "./subjects";

/** What takedowns touch; the app context has all of it. */
export interface TakedownDeps {
  readonly db: DatabasePlugin;
  readonly blobs: BlobStorePlugin;
  readonly sequencer: Sequencer;
  readonly sessions: Pick<SessionStore, "forget" | "forgetOAuth" | "forgetAccount">;
}

/**
 * Take an account down (`takedown.applied`) or lift its takedown. Taken down,
 * its repository and records are not served (the repo reader and sync reads
 * check `takedown_ref`), its tokens are refused (the verifier), log-in gives
 * only the limited taken-down session, and every session it had (password,
 * app password, OAuth) is revoked, as in the reference. Either way relays
 * hear `#account` with the resulting status: takendown, else deactivated
 * when the owner had deactivated, else active. False when the account is not
 * hosted here (nothing is changed or sequenced).
 */
export async function takedownAccount(deps: TakedownDeps, actor: string, did: string, takedown: StatusAttr): Promise<boolean> {
  const ref = takedownRef(takedown);
  const done = await deps.db.transaction(async (tx) => {
    const row = await tx.updateTable("account").set({ takedown_ref: ref }).where("did", "=", did).returning(["deactivated_at", "takedown_ref"]).executeTakeFirst();
    if (!row) return null;
    const revoked = ref === null ? { sessions: [], oauth: [] } : await revokeSessions(tx, did);
    await sequenceStatus(deps.sequencer, tx, did, hostingStatus(row));
    await logTakedown(tx, actor, "account", did, did, ref);
    return revoked;
  });
  if (!done) return false;
  deps.sequencer.announce();
  await Promise.all([deps.sessions.forget(done.sessions), ...done.oauth.map((id) => deps.sessions.forgetOAuth(id))]);
  await deps.sessions.forgetAccount(did);
  return true;
}

/**
 * Take a record down or restore it: com.atproto.repo.getRecord / listRecords
 * (and the read-after-write views) stop returning it. It stays in the
 * repository, so sync.getRecord, getRepo and the firehose keep serving its
 * blocks, as in the reference: the signed repository must stay whole. False
 * when there is no such record.
 */
export async function takedownRecord(deps: TakedownDeps, actor: string, record: RecordSubject, takedown: StatusAttr): Promise<boolean> {
  const ref = takedownRef(takedown);
  return deps.db.transaction(async (tx) => {
    const updated = await tx.updateTable("record").set({ takedown_ref: ref }).where("uri", "=", record.uri).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return false;
    await logTakedown(tx, actor, "record", record.uri, record.did, ref);
    return true;
  });
}

/**
 * Take a blob of `did` down or restore it. Taken down, getBlob answers as for
 * a missing blob (400 BlobNotFound) and its bytes move to the blob store's
 * quarantine (the reference's quarantine area), so nothing reading the store
 * serves them; restored, they move back. Under the repo lock, so a commit
 * making the same blob permanent meanwhile cannot race the move. A blob with
 * no stored bytes (a temporary upload) is only marked, as in the reference.
 * False when `did` has no such blob.
 */
export async function takedownBlob(deps: TakedownDeps, actor: string, did: string, cid: string, takedown: StatusAttr): Promise<boolean> {
  const ref = takedownRef(takedown);
  return deps.db.withRepoLock(did, async (tx) => {
    const row = await tx.selectFrom("blob").select("temp_key").where("did", "=", did).where("cid", "=", cid).executeTakeFirst();
    if (!row) return false;
    // Restoring: the bytes come back first, so a failure leaves the blob hidden rather than half restored.
    if (ref === null && row.temp_key === null) await ignoreMissing(deps.blobs.unquarantine(did, cid));
    await tx.updateTable("blob").set({ takedown_ref: ref }).where("did", "=", did).where("cid", "=", cid).execute();
    await logTakedown(tx, actor, "blob", cid, did, ref);
    // Taking down: the row already hides it; the move is retried by repeating the call if it fails.
    if (ref !== null && row.temp_key === null) await ignoreMissing(deps.blobs.quarantine(did, cid));
    return true;
  });
}

/**
 * `#account` with the account's current status, what updateSubjectStatus
 * sends for an account subject given no change (the reference always has).
 * False when the account is not hosted here.
 */
export async function sequenceAccountStatus(deps: Pick<TakedownDeps, "db" | "sequencer">, did: string): Promise<boolean> {
  const found = await deps.db.transaction(async (tx) => {
    const row = await tx.selectFrom("account").select(["deactivated_at", "takedown_ref"]).where("did", "=", did).executeTakeFirst();
    if (!row) return false;
    await sequenceStatus(deps.sequencer, tx, did, hostingStatus(row));
    return true;
  });
  if (found) deps.sequencer.announce();
  return found;
}

async function sequenceStatus(sequencer: Sequencer, tx: DbTransaction, did: string, status: ReturnType<typeof hostingStatus>): Promise<void> {
  if (status === "active") await sequencer.sequenceAccount(tx, did, true);
  else await sequencer.sequenceAccount(tx, did, false, status);
}

/** Every password, app-password and OAuth session of `did`, deleted in `tx`; their ids, to drop from the cache after commit. */
async function revokeSessions(tx: DbTransaction, did: string): Promise<{ sessions: string[]; oauth: string[] }> {
  const sessions = await tx.deleteFrom("refresh_token").where("did", "=", did).returning("id").execute();
  const oauth = await tx.selectFrom("oauth_token").select("id").where("did", "=", did).execute();
  const oauthIds = oauth.map((r) => r.id);
  if (oauthIds.length > 0) {
    await tx.deleteFrom("oauth_used_refresh_token").where("token_id", "in", oauthIds).execute();
    await tx.deleteFrom("oauth_token").where("id", "in", oauthIds).execute();
  }
  return { sessions: sessions.map((r) => r.id), oauth: oauthIds };
}

/** The store has no bytes under (did, cid): nothing to move. */
async function ignoreMissing(move: Promise<void>): Promise<void> {
  try {
    await move;
  } catch (err) {
    if (!(err instanceof BlobNotFoundError)) throw err;
  }
}

/** The log entry of a takedown (with its ref) or of lifting one. */
function logTakedown(tx: DbTransaction, actor: string, subjectType: "account" | "record" | "blob", subject: string, subjectDid: string, ref: string | null) {
  return logAdminAction(tx, { actor, action: ref === null ? "untakedown" : "takedown", subjectType, subject, subjectDid, ...(ref === null ? {} : { detail: { ref } }) });
}
