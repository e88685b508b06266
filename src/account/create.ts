import { parseDidKey } from "@atproto/crypto";
import { InvalidRequestError } from "@/errors";
import { createRepo } from "@/repo/create";
import type { AccountDeps } from "./deps";
import { createMovingAccount } from "./move-in";
import { type CreateAccountInput, type CreatedAccount, checkSignUp, insertAccount, uniqueToTaken } from "./sign-up";

/**
 * Sign up: check the input, create the DID on the PLC directory (genesis
 * operation signed by the server's rotation key), then in ONE transaction
 * take the invite, insert the account with its sealed signing key, create the
 * repository with its empty signed commit and open the first session. If the
 * transaction fails after the PLC accepted the DID, the DID is left unused.
 */
export async function createAccount(deps: AccountDeps, input: CreateAccountInput): Promise<CreatedAccount> {
  const { service } = deps.config;
  if (input.plcOp !== undefined) throw new InvalidRequestError('Unsupported input: "plcOp"');
  if (input.did !== undefined) return createMovingAccount(deps, { ...input, did: input.did });
  const { email, handle, passwordHash } = await checkSignUp(deps, input, { external: false });
  if (input.recoveryKey !== undefined) assertDidKey(input.recoveryKey);

  const keypair = await deps.vault.generate();
  const did = await deps.plc.createDid({
    signingKey: keypair.did(),
    handle,
    pds: service.publicUrl,
    // The user's recovery key first: it outranks the server's key for 72 h after a server-signed change.
    rotationKeys: [...(input.recoveryKey ? [input.recoveryKey] : []), deps.rotationKey.did()],
    signer: deps.rotationKey,
  });
  const sealed = await deps.vault.seal(did, keypair);

  let tokens;
  try {
    tokens = await deps.db.transaction(async (tx) => {
      await insertAccount(deps, tx, { did, handle, email, passwordHash, sealed, inviteCode: input.inviteCode, deactivated: false });
      const repo = await createRepo(tx, did, keypair);
      const session = await deps.sessions.open(did, null, tx);
      // Last, as the sequencer asks: its lock is held until this transaction commits.
      await deps.sequencer.sequenceIdentity(tx, did, handle);
      await deps.sequencer.sequenceAccount(tx, did, true);
      await deps.sequencer.sequenceSync(tx, did, repo.cid, repo.rev, repo.car);
      return session;
    });
    deps.sequencer.announce();
  } catch (err) {
    deps.log.warn("account creation failed after its DID was registered", { did, handle, err });
    throw await uniqueToTaken(deps, err, handle, email);
  }

  // The document as the directory now serves it; this also primes the cache. Its absence is not fatal.
  const didDoc = await deps.identity.resolveDid(did, { forceRefresh: true }).catch((err) => {
    deps.log.warn("could not read back a new DID document", { did, err });
    return null;
  });
  return { did, handle, ...tokens, ...(didDoc ? { didDoc } : {}) };
}

function assertDidKey(key: string): void {
  try {
    parseDidKey(key);
  } catch {
    throw new InvalidRequestError("recoveryKey must be a did:key");
  }
}
