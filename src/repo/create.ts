import type { Keypair } from "@atproto/crypto";
import { MemoryBlockstore, Repo, blocksToCarFile } from "@atproto/repo";
import type { DbTransaction } from "@/contracts/db";
import { putBlocks, setRoot } from "./blocks";

/**
 * Create the empty repository of `did` inside `tx`: a signed v3 commit over an
 * empty MST (rev = a fresh TID, prev null), its blocks and its root row.
 * Account creation calls this in the same transaction that inserts the account.
 * `car` holds the new blocks rooted at the commit: the body of the account's #sync event.
 */
export async function createRepo(
  tx: DbTransaction,
  did: string,
  signingKey: Keypair,
): Promise<{ cid: string; rev: string; car: Uint8Array }> {
  // An empty MST reads nothing from storage: a throwaway in-memory store is enough.
  const commit = await Repo.formatInitCommit(new MemoryBlockstore(), did, signingKey);
  await putBlocks(tx, did, commit.newBlocks, commit.rev);
  const cid = commit.cid.toString();
  await setRoot(tx, did, cid, commit.rev);
  return { cid, rev: commit.rev, car: await blocksToCarFile(commit.cid, commit.newBlocks) };
}
