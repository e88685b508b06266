import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { CacheAside } from "@/cache/aside";
import type { IdentityResolver } from "@/identity/resolver";
import type { Logger } from "@/log";
import type { RateLimits } from "@/rate-limit/limiter";
import type { Sequencer } from "@/sequencer/sequencer";
import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import type { TableName } from "@/db/schema";
import { InvalidRequestError } from "@/errors";
import { inBatches } from "@/util/in-batches";
import { oauthKey } from "@/auth/sessions";

/**
 * Every table holding rows of an account under its `did` column, deleted
 * when the account is. A test compares this list with the database's own
 * tables, so a new table with a `did` column that is missing here fails it.
 * Also removed, by other columns: invite codes made for the account
 * (`invite_code.for_account`, and their uses) and its own invite use
 * (`invite_code_use.used_by`).
 */
export const ACCOUNT_DID_TABLES = [
  "account",
  "app_password",
  "refresh_token",
  "repo_root",
  "repo_block",
  "record",
  "blob",
  "record_blob",
  "account_pref",
  "email_token",
  "oauth_request",
  "oauth_device_account",
  "oauth_authorized_client",
  "oauth_token",
] as const satisfies readonly TableName[];

/**
 * Tables with a `did` column that deletion keeps on purpose: `repo_seq`
 * keeps only the `#account` deleted event (relays must hear it; every
 * earlier event of the account goes), `deleted_account` is the tombstone.
 */
export const KEPT_DID_TABLES = ["repo_seq", "deleted_account"] as const satisfies readonly TableName[];

/** What a deletion touches (the server context has all of it; named one by one so the account room needs no AppContext). */
interface DeleteDeps {
  readonly db: DatabasePlugin;
  readonly blobs: BlobStorePlugin;
  readonly sequencer: Sequencer;
  readonly cached: CacheAside;
  readonly identity: IdentityResolver;
  readonly rateLimits: RateLimits;
  readonly log: Logger;
}

/**
 * Delete an account for good, in the reference's order: first the rows, in
 * one transaction under the repository's lock (no write of this repository
 * can commit meanwhile, on any node) ending with the `#account` deleted event
 * and the removal of the account's earlier events; then the cached
 * sessions and identity; last the blob bytes, listed from the rows and from
 * the blob store itself, so bytes whose row was lost go too. Bytes are
 * removed after the commit: a rolled-back deletion loses nothing.
 * `authorize` runs first inside the transaction (deleteAccount spends its
 * email token there).
 */
export async function deleteAccountData(
  deps: DeleteDeps,
  did: string,
  opts: { authorize?: (tx: DbTransaction) => Promise<void> } = {},
): Promise<void> {
  const gone = await deps.db.withRepoLock(did, async (tx) => {
    const account = await tx.selectFrom("account").select(["handle"]).where("did", "=", did).executeTakeFirst();
    if (!account) return null;
    await opts.authorize?.(tx);
    const sessions = await tx.selectFrom("refresh_token").select("id").where("did", "=", did).execute();
    const oauthSessions = await tx.selectFrom("oauth_token").select("id").where("did", "=", did).execute();
    const blobs = await tx.selectFrom("blob").select(["cid", "temp_key"]).where("did", "=", did).execute();
    await deleteInvites(tx, did);
    for (const table of ACCOUNT_DID_TABLES) await tx.deleteFrom(table).where("did", "=", did).execute();
    await tx.insertInto("deleted_account").values({ did, deleted_at: new Date().toISOString() }).execute();
    // Last, as the sequencer asks; the older events (commits carrying the records) go with the rest.
    const seq = await deps.sequencer.sequenceAccount(tx, did, false, "deleted");
    await tx.deleteFrom("repo_seq").where("did", "=", did).where("seq", "!=", seq).execute();
    return { handle: account.handle, sessions: [...sessions.map((s) => s.id), ...oauthSessions.map((s) => oauthKey(s.id))], blobs };
  });
  if (!gone) throw new InvalidRequestError("account not found");
  deps.sequencer.announce();

  await Promise.all([
    ...gone.sessions.map((id) => deps.cached.invalidate("session", id)),
    deps.identity.invalidateDid(did),
    ...(gone.handle ? [deps.identity.invalidateHandle(gone.handle)] : []),
    deps.rateLimits.forgetAccount(did),
  ]).catch((err) => deps.log.warn("account deleted; some cache entries or rate-limit counters could not be dropped and live out their TTL", { did, err }));

  try {
    await deleteBlobBytes(deps, did, gone.blobs);
  } catch (err) {
    // The account is gone for the user and for relays; what is left is bytes nothing points at any more.
    deps.log.error("account deleted, but some of its blob bytes could not be removed from the blob store", { did, err });
  }
}

/** Every CID the rows named and the store itself lists for the DID, then the temp uploads (the sweeper would get those too). */
async function deleteBlobBytes(deps: DeleteDeps, did: string, rows: readonly { cid: string; temp_key: string | null }[]): Promise<void> {
  const cids = new Set(rows.map((b) => b.cid));
  for (let cursor: string | undefined, first = true; first || cursor; first = false) {
    const page = await deps.blobs.list(did, { cursor });
    for (const cid of page.cids) cids.add(cid);
    cursor = page.cursor;
  }
  await inBatches([...cids], (batch) => deps.blobs.delete(did, batch));
  for (const { temp_key } of rows) if (temp_key) await deps.blobs.deleteTemp(temp_key);
}

/** Codes made for the account go with their uses; the account's own use goes without giving its inviter a use back. */
async function deleteInvites(tx: DbTransaction, did: string): Promise<void> {
  const used = await tx.selectFrom("invite_code_use").select("code").where("used_by", "=", did).execute();
  await inBatches(
    used.map((u) => u.code),
    (codes) => tx.updateTable("invite_code").set((eb) => ({ available_uses: eb("available_uses", "-", 1) })).where("code", "in", codes).execute(),
  );
  await tx.deleteFrom("invite_code_use").where("used_by", "=", did).execute();
  const own = await tx.selectFrom("invite_code").select("code").where("for_account", "=", did).execute();
  await inBatches(
    own.map((c) => c.code),
    (codes) => tx.deleteFrom("invite_code_use").where("code", "in", codes).execute(),
  );
  await tx.deleteFrom("invite_code").where("for_account", "=", did).execute();
}

/** A deleted DID is never hosted here again (createAccount checks before inserting). */
export async function isDeletedDid(tx: DbTransaction, did: string): Promise<boolean> {
  return (await tx.selectFrom("deleted_account").select("did").where("did", "=", did).executeTakeFirst()) !== undefined;
}
