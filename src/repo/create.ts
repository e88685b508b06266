import type { Keypair } from "@atproto/crypto";
import type { DbTransaction } from "@/contracts/db";
import { carFile } from "./commit-car";
import { SqlRepoStorage } from "./storage";
import { signAndStoreCommit } from "./transactor";

/**
 * Create the empty repository of `did` inside `tx`: a signed v3 commit over an
 * empty MST (rev = a fresh TID, prev null), its blocks and its root row, built
 * and stored by the same function as every later commit. Account creation
 * calls this in the same transaction that inserts the account; it runs no
 * commit hooks, because a new repository is announced with #sync, not #commit.
 * `car` holds the new blocks rooted at the commit: the body of that #sync event.
 */
export async function createRepo(
  tx: DbTransaction,
  did: string,
  signingKey: Keypair,
): Promise<{ cid: string; rev: string; car: Uint8Array }> {
  const { commit } = await signAndStoreCommit(tx, new SqlRepoStorage(tx, did), signingKey, [], null);
  return { cid: commit.cid.toString(), rev: commit.rev, car: carFile(commit.cid, commit.newBlocks) };
}
