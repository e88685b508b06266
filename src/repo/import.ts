import type { Keypair } from "@atproto/crypto";
import { TID } from "@atproto/common-web";
import { BlockMap, Repo, blocksToCarFile, readCarStream, verifyCommitSig, verifyRepo } from "@atproto/repo";
import { decode as decodeCbor } from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { linkBlobs } from "@/blob/refs";
import type { BlobService } from "@/blob/service";
import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import { InvalidRequestError, PayloadTooLargeError, XrpcError } from "@/errors";
import { signingDidKey } from "@/identity/did-doc";
import type { IdentityResolver } from "@/identity/resolver";
import { type DataMap, findBlobRefs } from "@/lexicon/data-model";
import { inBatches } from "@/util/in-batches";
import { putBlocks, setRoot } from "./blocks";
import { canonicalMstRoot } from "./mst-shape";
import { writeRecordRows } from "./record-rows";
import { SqlRepoStorage } from "./storage";
import type { PreparedWrite } from "./types";

export interface ImportDeps {
  db: DatabasePlugin;
  blobs: BlobService;
  identity: IdentityResolver;
  /** service.maxImportSize */
  limit: number;
}

/**
 * com.atproto.repo.importRepo: replace the repository of `did` (an account
 * moving here, still deactivated) with the one in `body`, a CAR. The CAR is
 * read as it streams (413 past `limit`, whatever Content-Length said), then
 * checked: one root, a commit of `did` signed with the key the DID document
 * lists, every MST node and record present, the tree in its one canonical
 * shape for those records (src/repo/mst-shape.ts). Then one transaction under the
 * repo lock replaces the blocks, the record rows, the blob references (their
 * blobs usually come later: listMissingBlobs) and the root, so a failed import
 * changes nothing and a repeated one ends the same. No event is sequenced:
 * relays hear of the repository at activateAccount (#sync).
 */
export async function importRepo(deps: ImportDeps, did: string, body: AsyncIterable<Uint8Array> | null, declaredLength?: number) {
  if (declaredLength !== undefined && declaredLength > deps.limit) throw tooLarge(deps.limit);
  const { root, blocks } = await readCar(body, deps.limit);
  const doc = await deps.identity.resolveDid(did, { forceRefresh: true });
  const key = doc ? signingDidKey(doc) : undefined;
  if (!key) throw new InvalidRequestError(`Could not resolve the signing key of ${did}`);
  const verified = await verifyRepo(blocks, root as never, did, key).catch((err) => {
    throw new InvalidRequestError(`Invalid repository: ${message(err)}`);
  });
  const { commit } = verified;
  const leaves = verified.creates.map((c) => ({ key: `${c.collection}/${c.rkey}`, cid: c.cid as never }));
  const canonical = await canonicalMstRoot(leaves);
  // verifyRepo has decoded and checked this block as the signed commit already.
  const data = (decodeCbor(blocks.get(root)!) as { data: CID }).data;
  if (!canonical.equals(CID.asCID(data) ?? undefined)) {
    throw new InvalidRequestError(`Invalid repository: the MST is not in canonical shape (its root should be ${canonical}, for the same records)`);
  }
  const writes: PreparedWrite[] = [];
  const refs: { uri: string; cid: string }[] = [];
  for (const create of verified.creates) {
    const uri = `at://${did}/${create.collection}/${create.rkey}`;
    const record = parseRecord(blocks.get(create.cid), uri);
    writes.push({ action: "create", uri, collection: create.collection, rkey: create.rkey, cid: CID.parse(create.cid.toString()) } as PreparedWrite);
    for (const ref of findBlobRefs(record)) refs.push({ uri, cid: ref.cid.toString() });
  }

  await deps.db.withRepoLock(did, async (tx) => {
    await assertImportable(tx, did);
    for (const table of ["record_blob", "record", "repo_block"] as const) await tx.deleteFrom(table).where("did", "=", did).execute();
    await putBlocks(tx, did, commit.newBlocks as BlockMap, commit.rev);
    await writeRecordRows(tx, did, commit.rev, writes);
    const cids = [...new Set(refs.map((r) => r.cid))];
    const stored = await inBatches(cids, (chunk) =>
      tx.selectFrom("blob").select(["cid", "temp_key"]).where("did", "=", did).where("cid", "in", chunk).execute(),
    );
    await linkBlobs(tx, deps.blobs.store, did, refs, stored.flat());
    await setRoot(tx, did, commit.cid.toString(), commit.rev);
  });
}

/**
 * Only an account that is not active takes an import (the reference also
 * imports into active ones, without telling relays). The no-op update takes
 * the account row's lock, so an activation waits for the import or the
 * import sees the activation.
 */
async function assertImportable(tx: DbTransaction, did: string): Promise<void> {
  const result = await tx
    .updateTable("account")
    .set((eb) => ({ deactivated_at: eb.ref("deactivated_at") }))
    .where("did", "=", did)
    .where("deactivated_at", "is not", null)
    .where("takedown_ref", "is", null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    throw new InvalidRequestError("A repository can only be imported into an account that is not active yet (deactivated)");
  }
}

async function readCar(body: AsyncIterable<Uint8Array> | null, limit: number): Promise<{ root: CID; blocks: BlockMap }> {
  try {
    const car = await readCarStream(capped(body, limit));
    if (car.roots.length !== 1) {
      await car.blocks.dump();
      throw new InvalidRequestError("expected one root");
    }
    const blocks = new BlockMap();
    for await (const block of car.blocks) blocks.set(block.cid, block.bytes);
    return { root: CID.parse(car.roots[0]!.toString()), blocks };
  } catch (err) {
    if (err instanceof XrpcError) throw err;
    throw new InvalidRequestError(`Could not read the CAR: ${message(err)}`);
  }
}

async function* capped(body: AsyncIterable<Uint8Array> | null, limit: number): AsyncGenerator<Uint8Array> {
  if (!body) return;
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    yield chunk;
  }
}

function parseRecord(bytes: Uint8Array | undefined, uri: string): DataMap {
  try {
    const value = bytes ? decodeCbor(bytes) : undefined;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array)) return value as DataMap;
  } catch {
    // reported below
  }
  throw new InvalidRequestError(`Could not parse record at ${uri}`);
}

/**
 * At activation: a commit signed with another key than the account's (the
 * old PDS's, as imported) is signed again with the account's own key, over the
 * same data and with a newer rev, so the `#sync` relays receive — and getRepo
 * — verify against the DID document that now lists this server's key. The
 * current commit as `#sync` carries it: a CAR of the commit block alone.
 */
export async function resignForeignCommit(tx: DbTransaction, did: string, key: Keypair): Promise<{ cid: string; rev: string; car: Uint8Array }> {
  const storage = new SqlRepoStorage(tx, did);
  const root = await storage.getRoot();
  if (!root) throw new InvalidRequestError("The repository has not been imported yet (com.atproto.repo.importRepo)", "RepoNotFound");
  const repo = await Repo.load(storage, root);
  let cid = repo.cid;
  let rev = repo.commit.rev;
  let commitBlock = await storage.getBytes(cid);
  if (!(await verifyCommitSig(repo.commit, key.did()))) {
    const resigned = await repo.formatResignCommit(TID.nextStr(rev), key);
    await storage.applyCommit(resigned);
    ({ cid, rev } = resigned);
    commitBlock = resigned.newBlocks.get(cid) ?? null;
  }
  const blocks = new BlockMap();
  blocks.set(cid, commitBlock!);
  return { cid: cid.toString(), rev, car: await blocksToCarFile(cid, blocks) };
}

const tooLarge = (limit: number) => new PayloadTooLargeError(`Repository CAR exceeds the import limit of ${limit} bytes`);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 200);
