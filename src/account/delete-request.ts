import type { AppContext } from "@/app-context";
import { AuthRequiredError, InvalidRequestError } from "@/errors";
import { deleteAccountData } from "./delete";
import { verifyPassword } from "./passwords";
import { accountByDid } from "./store";

type Deps = Parameters<typeof deleteAccountData>[0] & Pick<AppContext, "emailTokens" | "mailer">;

/** requestAccountDelete: mail the account a `delete_account` token (sending never fails the call; the mailer logs and counts). */
export async function requestAccountDelete(deps: Deps, did: string): Promise<void> {
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("account not found");
  if (!account.email) throw new InvalidRequestError("account does not have an email address");
  const token = await deps.emailTokens.issue(did, "delete_account");
  await deps.mailer.send({ template: "delete-account", to: account.email, vars: { token } });
}

/**
 * deleteAccount: the account password (never an app password) and the mailed
 * token. The token is spent in the deletion's own transaction, so a deletion
 * that fails leaves it usable for another try.
 */
export async function deleteAccount(deps: Deps, input: { did: string; password: string; token: string }): Promise<void> {
  const account = await accountByDid(deps.db.db(), input.did);
  if (!account) throw new InvalidRequestError("account not found");
  if (!(await verifyPassword(input.password, account.password_hash))) throw new AuthRequiredError("Invalid did or password");
  await deleteAccountData(deps, input.did, { authorize: (tx) => deps.emailTokens.consume(input.did, "delete_account", input.token, tx) });
}
