import { isUniqueViolation } from "@/db/errors";
import { AuthRequiredError, InvalidRequestError } from "@/errors";
import { signingDidKey } from "@/identity/did-doc";
import { type CreateAccountInput, type CreatedAccount, checkSignUp, insertAccount, uniqueToTaken } from "./sign-up";
import type { AccountDeps } from "./deps";
import { serviceDomainOf } from "./handle";
import { accountByDid } from "./store";

/**
 * createAccount bringing an existing DID (moving in, as `goat account
 * migrate` does): the request carries the DID's own service auth for
 * createAccount (minted by its current PDS). The account is created
 * deactivated and holds no repository until importRepo fills it; nothing is
 * announced on the firehose until activateAccount. Its signing key is one
 * reserved for the DID (reserveSigningKey), or the reserved key the DID
 * document already lists, else a fresh one; getRecommendedDidCredentials
 * then hands out that key for the DID document.
 */
export async function createMovingAccount(deps: AccountDeps, input: CreateAccountInput & { did: string }): Promise<CreatedAccount> {
  const { did } = input;
  if (input.requester !== did) throw new AuthRequiredError(`Missing auth to create account with did: ${did}`);
  const db = deps.db.db();
  if (await accountByDid(db, did)) throw alreadyHere(did);
  const { email, handle, passwordHash } = await checkSignUp(deps, input, { external: true });
  if (!serviceDomainOf(handle, deps.config.service.handleDomains)) {
    const resolved = await deps.identity.resolveHandle(handle, { forceRefresh: true });
    if (resolved !== did) throw new InvalidRequestError("External handle did not resolve to DID", "InvalidHandle");
  }
  // Resolved (and cached) a moment ago, when the service auth was verified.
  const didDoc = await deps.identity.resolveDid(did);
  const listedKey = didDoc ? signingDidKey(didDoc) : undefined;
  const keypair = (await deps.reservedKeys.find(db, did, listedKey)) ?? (await deps.vault.generate());
  const sealed = await deps.vault.seal(did, keypair);

  try {
    const tokens = await deps.db.transaction(async (tx) => {
      await insertAccount(deps, tx, { did, handle, email, passwordHash, sealed, inviteCode: input.inviteCode, deactivated: true });
      await deps.reservedKeys.release(tx, did, keypair.did());
      return deps.sessions.open(did, null, tx);
    });
    return { did, handle, ...tokens, ...(didDoc ? { didDoc } : {}) };
  } catch (err) {
    if (isUniqueViolation(err) && (await accountByDid(db, did))) throw alreadyHere(did);
    throw await uniqueToTaken(deps, err, handle, email);
  }
}

function alreadyHere(did: string): InvalidRequestError {
  return new InvalidRequestError(`An account with this DID already exists here: ${did}`);
}
