import type { AccountService } from "@/account/service";
import type { DatabasePlugin } from "@/contracts/db";
import { logAdminAction } from "./log";

/**
 * Deactivate an account for its owner, or activate it again: the same
 * changes as the owner's own com.atproto.server.deactivateAccount /
 * activateAccount (which sequence `#account` and drop cached sessions), then
 * the entry in the admin log. Activation checks the DID document as the
 * owner's does and never lifts a takedown (400 AccountNotFound then, as the
 * reference).
 */
export async function setAccountDeactivated(
  deps: { readonly db: DatabasePlugin; readonly accounts: Pick<AccountService, "deactivateAccount" | "activateAccount"> },
  actor: string,
  did: string,
  deactivated: boolean,
): Promise<void> {
  if (deactivated) await deps.accounts.deactivateAccount(did, null);
  else await deps.accounts.activateAccount(did);
  await logAdminAction(deps.db.db(), {
    actor,
    action: deactivated ? "deactivate" : "activate",
    subjectType: "account",
    subject: did,
    subjectDid: did,
  });
}
