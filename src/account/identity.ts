import { isUniqueViolation } from "@/db/errors";
import { InvalidRequestError } from "@/errors";
import type { AccountDeps } from "./deps";
import { normalizeHandleSyntax, serviceDomainOf, validateRequestedHandle } from "./handle";
import { accountByDid, accountByHandle } from "./store";

/** What changed, for whoever announces identity changes (the sequencer's #identity event). */
export interface HandleChange {
  did: string;
  handle: string;
  previousHandle: string | null;
  /** False when the account already had this handle. */
  changed: boolean;
}

/**
 * Give an account a new handle. Under a service domain the handle is checked
 * like at sign-up; any other handle must already resolve to the account's
 * DID. For did:plc the DID document is updated on the PLC directory (signed
 * by the server's rotation key); a did:web document must already name the
 * handle. Cached identity answers are dropped on every node. `allowReserved`:
 * the admin's updateAccountHandle may hand out reserved labels.
 */
export async function updateHandle(deps: AccountDeps, did: string, requested: string, opts: { allowReserved?: boolean } = {}): Promise<HandleChange> {
  const db = deps.db.db();
  const account = await accountByDid(db, did);
  if (!account) throw new InvalidRequestError("Account not found");
  const handle = validateRequestedHandle(requested, deps.config.service.handleDomains, { external: true, ...opts });
  const holder = await accountByHandle(db, handle);
  if (holder && holder.did !== did) throw handleTaken(handle);
  if (holder) {
    // Unchanged: still announce it, so relays and AppViews that missed the handle can refresh it.
    await announceIdentity(deps, did, handle);
    return { did, handle, previousHandle: account.handle, changed: false };
  }

  if (!serviceDomainOf(handle, deps.config.service.handleDomains)) {
    const resolved = await deps.identity.resolveHandle(handle, { forceRefresh: true });
    if (resolved !== did) throw new InvalidRequestError("External handle did not resolve to DID");
  }
  if (did.startsWith("did:plc:")) {
    await deps.plc.updateHandle(did, handle, deps.rotationKey);
  } else {
    const data = await deps.identity.resolveAtprotoData(did, { forceRefresh: true });
    if (data?.handle !== handle) throw new InvalidRequestError("DID is not properly configured for handle");
  }

  try {
    await deps.db.transaction(async (tx) => {
      await tx.updateTable("account").set({ handle }).where("did", "=", did).execute();
      await deps.sequencer.sequenceIdentity(tx, did, handle);
    });
    deps.sequencer.announce();
  } catch (err) {
    // Someone took the handle between the check and now; the PLC document is put right by the next update.
    if (isUniqueViolation(err)) throw handleTaken(handle);
    throw err;
  }
  await Promise.all([
    deps.identity.invalidateDid(did),
    deps.identity.invalidateHandle(handle),
    account.handle ? deps.identity.invalidateHandle(account.handle) : undefined,
  ]);
  return { did, handle, previousHandle: account.handle, changed: true };
}

/**
 * A handle's DID: hosted handles from the database; handles under our
 * domains that no account holds resolve to nothing; anything else goes to
 * the identity resolver (DNS, then HTTPS).
 */
export async function resolveHandle(deps: AccountDeps, input: string): Promise<string | null> {
  const handle = normalizeHandleSyntax(input);
  const hosted = await accountByHandle(deps.db.db(), handle);
  if (hosted) return hosted.did;
  const ours = deps.config.service.handleDomains.some((d) => handle.endsWith(d) || handle === d.slice(1));
  if (ours) return null;
  return deps.identity.resolveHandle(handle);
}

/**
 * The DID document fields this server would set for the account (for
 * migrating an account here). Rotation keys only for did:plc: a did:web
 * document has none, its owner edits it where it is hosted.
 */
export async function recommendedDidCredentials(deps: AccountDeps, did: string) {
  const db = deps.db.db();
  const account = await accountByDid(db, did);
  if (!account) throw new InvalidRequestError("Account not found");
  const signingKey = await deps.vault.open(did, account.signing_key);
  return {
    ...(account.handle ? { alsoKnownAs: [`at://${account.handle}`] } : {}),
    verificationMethods: { atproto: signingKey.did() },
    ...(did.startsWith("did:plc:") ? { rotationKeys: [deps.rotationKey.did()] } : {}),
    services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: deps.config.service.publicUrl } },
  };
}

function handleTaken(handle: string): InvalidRequestError {
  return new InvalidRequestError(`Handle already taken: ${handle}`, "HandleNotAvailable");
}

async function announceIdentity(deps: AccountDeps, did: string, handle: string): Promise<void> {
  await deps.db.transaction((tx) => deps.sequencer.sequenceIdentity(tx, did, handle));
  deps.sequencer.announce();
}
