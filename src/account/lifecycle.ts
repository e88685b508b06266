import { getPdsEndpoint, getSigningDidKey } from "@atproto/common-web";
import type { Keypair } from "@atproto/crypto";
import { sql } from "kysely";
import { InvalidRequestError } from "@/errors";
import { resignForeignCommit } from "@/repo/import";
import type { AccountDeps } from "./deps";
import { accountByDid } from "./store";

/** com.atproto.server.checkAccountStatus output. */
export interface AccountStatusView {
  activated: boolean;
  validDid: boolean;
  repoCommit: string;
  repoRev: string;
  repoBlocks: number;
  indexedRecords: number;
  privateStateValues: number;
  expectedBlobs: number;
  importedBlobs: number;
}

/**
 * Deactivate: the repository stops taking writes and sync reads serve it
 * only to its owner (the verifier and the repo reader read `deactivated_at`),
 * and relays hear `#account` inactive. A taken-down account stays reported
 * as taken down: takedown outranks whatever the owner does.
 */
export async function deactivateAccount(deps: AccountDeps, did: string, deleteAfter: string | null): Promise<void> {
  const found = await deps.db.transaction(async (tx) => {
    const row = await tx
      .updateTable("account")
      .set({ deactivated_at: new Date().toISOString(), delete_after: deleteAfter })
      .where("did", "=", did)
      .returning("takedown_ref")
      .executeTakeFirst();
    if (!row) return false;
    await deps.sequencer.sequenceAccount(tx, did, false, row.takedown_ref ? "takendown" : "deactivated");
    return true;
  });
  if (!found) throw new InvalidRequestError("Account not found");
  await afterStatusChange(deps, did);
}

/**
 * Activate, as the reference does: only when the DID document points here
 * with this account's key, never for a taken-down account; then `#identity`,
 * `#account` (active) and a `#sync` of the current commit, so a relay that
 * dropped the repository while it was inactive picks it up again. An account
 * moved here needs its repository imported first, and an imported commit is
 * signed again with the account's key (resignForeignCommit).
 */
export async function activateAccount(deps: AccountDeps, did: string): Promise<void> {
  const key = await assertDidDocForService(deps, did);
  // Under the repo lock: an imported commit may be signed again (resignForeignCommit), a repository write.
  const found = await deps.db.withRepoLock(did, async (tx) => {
    const row = await tx
      .updateTable("account")
      .set({ deactivated_at: null, delete_after: null })
      .where("did", "=", did)
      .where("takedown_ref", "is", null)
      .returning("handle")
      .executeTakeFirst();
    if (!row) return false;
    const sync = await resignForeignCommit(tx, did, key);
    await deps.sequencer.sequenceIdentity(tx, did, row.handle ?? undefined);
    await deps.sequencer.sequenceAccount(tx, did, true);
    await deps.sequencer.sequenceSync(tx, did, sync.cid, sync.rev, sync.car);
    return true;
  });
  if (!found) throw new InvalidRequestError("user not found", "AccountNotFound");
  await afterStatusChange(deps, did);
}

/** Everything the figures come from is this server's own tables; `validDid` asks the DID's directory. */
export async function checkAccountStatus(deps: AccountDeps, did: string): Promise<AccountStatusView> {
  const db = deps.db.db();
  const count = sql<number | string>`count(*)`.as("n");
  const [account, root, blocks, records, blobs, expected, validDid] = await Promise.all([
    accountByDid(db, did),
    db.selectFrom("repo_root").select(["cid", "rev"]).where("did", "=", did).executeTakeFirst(),
    db.selectFrom("repo_block").select(count).where("did", "=", did).executeTakeFirstOrThrow(),
    db.selectFrom("record").select(count).where("did", "=", did).executeTakeFirstOrThrow(),
    db.selectFrom("blob").select(count).where("did", "=", did).executeTakeFirstOrThrow(),
    db.selectFrom("record_blob").select(sql<number | string>`count(distinct blob_cid)`.as("n")).where("did", "=", did).executeTakeFirstOrThrow(),
    assertDidDocForService(deps, did).then(
      () => true,
      () => false,
    ),
  ]);
  if (!account || !root) throw new InvalidRequestError(`Could not find repo for DID: ${did}`, "RepoNotFound");
  return {
    activated: account.deactivated_at === null,
    validDid,
    repoCommit: root.cid,
    repoRev: root.rev,
    repoBlocks: Number(blocks.n),
    indexedRecords: Number(records.n),
    privateStateValues: 0,
    expectedBlobs: Number(expected.n),
    importedBlobs: Number(blobs.n),
  };
}

/**
 * The DID document must name this server as the account's PDS, this
 * account's signing key, and (did:plc) the server's rotation key: the
 * reference's test before activation, and checkAccountStatus's `validDid`.
 */
async function assertDidDocForService(deps: AccountDeps, did: string): Promise<Keypair> {
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("Account not found", "AccountNotFound");
  let doc: { pds?: string; signingKey?: string; rotationKeys?: string[] };
  if (did.startsWith("did:plc:")) {
    const data = await deps.plc.getDocumentData(did);
    if (!data) throw new InvalidRequestError("Could not resolve DID");
    doc = { pds: data.services.atproto_pds?.endpoint, signingKey: data.verificationMethods.atproto, rotationKeys: data.rotationKeys };
  } else {
    const resolved = await deps.identity.resolveDid(did, { forceRefresh: true });
    if (!resolved) throw new InvalidRequestError("Could not resolve DID");
    doc = { pds: getPdsEndpoint(resolved), signingKey: getSigningDidKey(resolved) };
  }
  if (doc.rotationKeys && !doc.rotationKeys.includes(deps.rotationKey.did())) {
    throw new InvalidRequestError("Server rotation key not included in PLC DID data");
  }
  if (doc.pds !== deps.config.service.publicUrl) {
    throw new InvalidRequestError("DID document atproto_pds service endpoint does not match PDS public url");
  }
  const key = await deps.vault.open(did, account.signing_key);
  if (doc.signingKey !== key.did()) throw new InvalidRequestError("DID document verification method does not match expected signing key");
  return key;
}

/** Wake the firehoses, and drop cached sessions so no node keeps serving the old status. */
async function afterStatusChange(deps: AccountDeps, did: string): Promise<void> {
  deps.sequencer.announce();
  await deps.sessions.forgetAccount(did);
}
