import * as plc from "@did-plc/lib";
import { InvalidRequestError } from "@/errors";
import type { AccountDeps } from "./deps";
import { accountByDid } from "./store";

/** What signPlcOperation may change; anything left out is kept from the DID's last operation. */
export interface PlcOperationChanges {
  token?: string;
  rotationKeys?: string[];
  alsoKnownAs?: string[];
  verificationMethods?: Record<string, string>;
  services?: Record<string, { type: string; endpoint: string }>;
}

/** PLC operations exist only for did:plc; a did:web account edits its own document. */
function assertPlc(did: string): void {
  if (!did.startsWith("did:plc:")) throw new InvalidRequestError("PLC operations are only for did:plc accounts; a did:web document is edited where it is hosted");
}

/** Mail a plc_operation code to the account's address: it authorises one signPlcOperation. */
export async function requestPlcOperationSignature(deps: AccountDeps, did: string): Promise<void> {
  assertPlc(did);
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("account not found");
  if (!account.email) throw new InvalidRequestError("account does not have an email address");
  const token = await deps.emailTokens.issue(did, "plc_operation");
  await deps.mailer.send({ template: "plc-operation", to: account.email, vars: { token } });
}

/**
 * Sign (never submit) an update of the account's DID with the server's
 * rotation key, for the account to hand to its new PDS. Everything is
 * checked before the code is spent, so a refused request can be retried
 * with the same code.
 */
export async function signPlcOperation(deps: AccountDeps, did: string, changes: PlcOperationChanges): Promise<plc.Operation> {
  assertPlc(did);
  if (!changes.token) throw new InvalidRequestError("email confirmation token required to sign PLC operations");
  const last = await lastOperation(deps, did);
  if (!plc.normalizeOp(last).rotationKeys.includes(deps.rotationKey.did())) {
    throw new InvalidRequestError("This server's rotation key is no longer a rotation key of the DID, so it cannot sign for it");
  }
  const update = (prev: plc.UnsignedOperation): Omit<plc.UnsignedOperation, "prev"> => ({
    ...prev,
    rotationKeys: changes.rotationKeys ?? prev.rotationKeys,
    alsoKnownAs: changes.alsoKnownAs ?? prev.alsoKnownAs,
    verificationMethods: changes.verificationMethods ?? prev.verificationMethods,
    services: changes.services ?? prev.services,
  });
  const unsigned = update(plc.normalizeOp(last));
  await assureValid({ ...unsigned, prev: null, sig: "" });
  await deps.emailTokens.consume(did, "plc_operation", changes.token);
  return plc.createUpdateOp(last, deps.rotationKey as never, update);
}

/**
 * Submit an operation signed elsewhere (by the old PDS, for an account moving
 * here) once it keeps this server able to serve the account: our rotation
 * key, our endpoint, the account's signing key here, its handle first. Then
 * relays hear `#identity` and every node forgets the cached document.
 */
export async function submitPlcOperation(deps: AccountDeps, did: string, input: unknown): Promise<void> {
  assertPlc(did);
  const parsed = plc.def.operation.safeParse(input);
  if (!parsed.success) throw new InvalidRequestError("Invalid operation");
  const op = parsed.data;
  await assureValid(op);
  if (!op.rotationKeys.includes(deps.rotationKey.did())) throw new InvalidRequestError("Rotation keys do not include server's rotation key");
  const pds = op.services.atproto_pds;
  if (pds?.type !== "AtprotoPersonalDataServer") throw new InvalidRequestError("Incorrect type on atproto_pds service");
  if (pds.endpoint !== deps.config.service.publicUrl) throw new InvalidRequestError("Incorrect endpoint on atproto_pds service");
  const account = await accountByDid(deps.db.db(), did);
  if (!account) throw new InvalidRequestError("account not found");
  const signingKey = await deps.vault.open(did, account.signing_key);
  if (op.verificationMethods.atproto !== signingKey.did()) throw new InvalidRequestError("Incorrect signing key");
  if (account.handle && op.alsoKnownAs[0] !== `at://${account.handle}`) throw new InvalidRequestError("Incorrect handle in alsoKnownAs");

  await deps.plc.submitOperation(did, op);
  await deps.db.transaction((tx) => deps.sequencer.sequenceIdentity(tx, did, account.handle ?? undefined));
  deps.sequencer.announce();
  await deps.identity.invalidateDid(did);
  // Warm the cache with the new document; a failure here only means the next reader fetches it.
  await deps.identity.resolveDid(did, { forceRefresh: true }).catch((err) => deps.log.warn("could not refresh the DID document after a PLC update", { did, err }));
}

async function lastOperation(deps: AccountDeps, did: string): Promise<plc.CompatibleOp> {
  const last = await deps.plc.lastOperation(did);
  if (!last) throw new InvalidRequestError(`PLC directory does not know ${did}`);
  if (plc.def.tombstone.safeParse(last).success) throw new InvalidRequestError("Did is tombstoned");
  return last as plc.CompatibleOp;
}

/** The directory's own rules (did:key keys, one to five rotation keys) as a 400 here, before anything is signed or sent. */
async function assureValid(op: plc.Operation): Promise<void> {
  try {
    await plc.assureValidOp(op);
  } catch (err) {
    throw new InvalidRequestError(`Invalid PLC operation: ${err instanceof Error ? err.message : String(err)}`);
  }
}
