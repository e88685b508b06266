/**
 * Moving an existing DID in (the goat flow, Aurora's side): createAccount with
 * the DID's service auth, importRepo, listMissingBlobs and uploads,
 * checkAccountStatus, the DID document update, activateAccount; and the bad
 * input (another DID's CAR, a bad signature, a truncated or oversized CAR, a
 * replayed token), each refused with nothing imported. SQLite + disk and
 * PostgreSQL + S3, a real PLC directory, through ctx.handle.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { Secp256k1Keypair } from "@atproto/crypto";
import { TID } from "@atproto/common-web";
import { BlockMap, Leaf, MST, MemoryBlockstore, Repo, WriteOpAction, blocksToCarFile, getFullRepo, mstUtil, readCar, signCommit, verifyRepoCar } from "@atproto/repo";
import * as plcLib from "@did-plc/lib";
import { decode as decodeCbor } from "@ipld/dag-cbor";
import { mintServiceJwt } from "@/auth/service-jwt";
import { blobCid } from "@/blob/upload";
import { BACKENDS } from "@test/repo/backends";
import { fakePng } from "@test/support/blobs";
import type { TestContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { serverConfig, xrpc } from "@test/xrpc/support";
import { createHash } from "node:crypto";

const CREATE = "com.atproto.server.createAccount";
const IMPORT_LIMIT = 256 * 1024;
const car = (data: Uint8Array) => ({ raw: { type: "application/vnd.ipld.car", data } });

/** A DID living on "another PDS": its own rotation and signing keys in the PLC directory. */
async function remoteDid(plcUrl: string) {
  const rotation = await Secp256k1Keypair.create({ exportable: true });
  const signing = await Secp256k1Keypair.create({ exportable: true });
  const client = new plcLib.Client(plcUrl);
  const handle = `old${randomBytes(3).toString("hex")}.example`;
  const did = await client.createDid({ signingKey: signing.did(), handle, pds: "https://old.example", rotationKeys: [rotation.did()], signer: rotation as never });
  return { did, rotation, signing, client };
}

/** The DID's repository as its old PDS would export it: a profile with an avatar, a post, a follow. */
async function sourceCar(did: string, key: Secp256k1Keypair, avatar: Uint8Array, description = "") {
  const storage = new MemoryBlockstore();
  const ref = { $type: "blob", ref: blobCid(new Uint8Array(createHash("sha256").update(avatar).digest())), mimeType: "image/png", size: avatar.length };
  const createdAt = new Date().toISOString();
  const repo = await Repo.create(storage, did, key, [
    { action: WriteOpAction.Create, collection: "app.bsky.actor.profile", rkey: "self", record: { $type: "app.bsky.actor.profile", displayName: "Mover", description, avatar: ref } as never },
    { action: WriteOpAction.Create, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaa22", record: { $type: "app.bsky.feed.post", text: "hello from before", createdAt } as never },
    { action: WriteOpAction.Create, collection: "app.bsky.graph.follow", rkey: "3kaaaaaaaaa23", record: { $type: "app.bsky.graph.follow", subject: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", createdAt } as never },
  ]);
  const chunks: Uint8Array[] = [];
  for await (const chunk of getFullRepo(storage, repo.cid)) chunks.push(chunk);
  return { bytes: new Uint8Array(Buffer.concat(chunks)), root: repo.cid.toString(), rev: repo.commit.rev, avatarCid: ref.ref.toString() };
}

/**
 * A repository of `did`, properly signed and with every node and record
 * present, whose MST has the wrong shape: three posts whose keys all belong on
 * layer 0, the middle one lifted into a layer-1 root between two subtrees.
 */
async function misshapenCar(did: string, key: Secp256k1Keypair) {
  const blocks = new BlockMap();
  const createdAt = new Date().toISOString();
  const leaves: Leaf[] = [];
  while (leaves.length < 3) {
    const path = `app.bsky.feed.post/${TID.nextStr()}`;
    if ((await mstUtil.leadingZerosOnHash(path)) !== 0) continue;
    leaves.push(new Leaf(path, await blocks.add({ $type: "app.bsky.feed.post", text: path, createdAt })));
  }
  const storage = new MemoryBlockstore();
  const left = await MST.create(storage, [leaves[0]!], { layer: 0 });
  const right = await MST.create(storage, [leaves[2]!], { layer: 0 });
  const root = await MST.create(storage, [left, leaves[1]!, right], { layer: 1 });
  blocks.addMap((await root.getUnstoredBlocks()).blocks);
  const commit = await signCommit({ did, version: 3, data: await root.getPointer(), rev: TID.nextStr(), prev: null }, key);
  const commitCid = await blocks.add(commit);
  return blocksToCarFile(commitCid, blocks);
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`moving an account in on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let n = 0;

    beforeAll(async () => {
      plc = await startPlc();
      ctx = await backend.open(serverConfig(plc.url, { service: { maxImportSize: IMPORT_LIMIT } }));
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    const token = (remote: Awaited<ReturnType<typeof remoteDid>>, key = remote.signing, lxm = CREATE) =>
      mintServiceJwt(key, { iss: remote.did, aud: ctx.config.service.did, lxm });
    const signUp = async (remote: Awaited<ReturnType<typeof remoteDid>>, auth?: string) => {
      const handle = `moved${n++}${randomBytes(3).toString("hex")}.test`;
      return xrpc(ctx, CREATE, { body: { handle, email: `${handle}@mail.test`, password: "pw-moving", did: remote.did }, ...(auth ? { auth } : {}) });
    };
    /** What the repository tables hold of `did`. */
    const repoRows = async (did: string) => {
      const db = ctx.db.db();
      const count = async (table: "repo_block" | "record" | "record_blob" | "repo_root" | "repo_seq") =>
        (await db.selectFrom(table).select("did").where("did", "=", did).execute()).length;
      return { blocks: await count("repo_block"), records: await count("record"), refs: await count("record_blob"), root: await count("repo_root"), events: await count("repo_seq") };
    };
    const empty = { blocks: 0, records: 0, refs: 0, root: 0, events: 0 };

    test("the whole move: deactivated account without a repository, import, missing blobs, activation with #sync", async () => {
      const remote = await remoteDid(plc.url);
      const avatar = fakePng(700);
      const source = await sourceCar(remote.did, remote.signing, avatar);

      expect((await signUp(remote)).status).toBe(401);
      const jwt = await token(remote);
      const created = await signUp(remote, `Bearer ${jwt}`);
      expect(created.status).toBe(200);
      expect(created.body.did).toBe(remote.did);
      const bearer = `Bearer ${created.body.accessJwt}`;
      const account = await ctx.db.db().selectFrom("account").select(["deactivated_at"]).where("did", "=", remote.did).executeTakeFirstOrThrow();
      expect(account.deactivated_at).not.toBeNull();
      expect(await repoRows(remote.did)).toEqual(empty);
      // The same token again: refused as a replay, nothing changes.
      const replay = await signUp(remote, `Bearer ${jwt}`);
      expect([replay.status, replay.body.error]).toEqual([401, "BadJwt"]);
      const session = await xrpc(ctx, "com.atproto.server.getSession", { auth: bearer });
      expect(session.body).toMatchObject({ did: remote.did, active: false, status: "deactivated" });

      expect((await xrpc(ctx, "com.atproto.repo.importRepo", { auth: bearer, ...car(source.bytes) })).status).toBe(200);
      const once = await repoRows(remote.did);
      expect(once).toMatchObject({ records: 3, refs: 1, root: 1, events: 0 });
      // Idempotent: the same CAR again ends in the same state.
      expect((await xrpc(ctx, "com.atproto.repo.importRepo", { auth: bearer, ...car(source.bytes) })).status).toBe(200);
      expect(await repoRows(remote.did)).toEqual(once);

      const status = await xrpc(ctx, "com.atproto.server.checkAccountStatus", { auth: bearer });
      expect(status.body).toMatchObject({ activated: false, validDid: false, repoCommit: source.root, repoRev: source.rev, repoBlocks: once.blocks, indexedRecords: 3, expectedBlobs: 1, importedBlobs: 0 });
      const missing = await xrpc(ctx, "com.atproto.repo.listMissingBlobs", { auth: bearer });
      expect(missing.body).toEqual({ blobs: [{ cid: source.avatarCid, recordUri: `at://${remote.did}/app.bsky.actor.profile/self` }] });

      const uploaded = await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: bearer, raw: { type: "image/png", data: avatar } });
      expect(uploaded.body.blob.ref.$link).toBe(source.avatarCid);
      const blob = await ctx.db.db().selectFrom("blob").select("temp_key").where("did", "=", remote.did).executeTakeFirstOrThrow();
      expect(blob.temp_key).toBeNull(); // referenced by an imported record: permanent at once
      expect((await xrpc(ctx, "com.atproto.repo.listMissingBlobs", { auth: bearer })).body).toEqual({ blobs: [] });
      expect((await xrpc(ctx, "com.atproto.server.checkAccountStatus", { auth: bearer })).body).toMatchObject({ expectedBlobs: 1, importedBlobs: 1 });

      // The DID document moves here (what submitPlcOperation would send), then activation.
      const creds = await xrpc(ctx, "com.atproto.identity.getRecommendedDidCredentials", { auth: bearer });
      expect(creds.status).toBe(200);
      await remote.client.updateData(remote.did, remote.rotation as never, (op) => ({
        ...op,
        verificationMethods: creds.body.verificationMethods,
        rotationKeys: [...creds.body.rotationKeys, remote.rotation.did()],
        services: creds.body.services,
      }));
      const activated = await xrpc(ctx, "com.atproto.server.activateAccount", { auth: bearer, raw: { type: "application/json", data: new Uint8Array() } });
      expect([activated.status, activated.body]).toEqual([200, new Uint8Array()]);
      const events = await ctx.db.db().selectFrom("repo_seq").select(["event_type", "event"]).where("did", "=", remote.did).orderBy("seq").execute();
      expect(events.map((e) => e.event_type)).toEqual(["identity", "account", "sync"]);
      const sync = decodeCbor(events[2]!.event) as { rev: string; blocks: Uint8Array };
      const root = await ctx.db.db().selectFrom("repo_root").select(["cid", "rev"]).where("did", "=", remote.did).executeTakeFirstOrThrow();
      expect(sync.rev).toBe(root.rev);
      expect(root.rev > source.rev).toBe(true); // signed again with the account's key here
      expect((await readCar(sync.blocks)).roots.map(String)).toEqual([root.cid]);

      const repo = await xrpc(ctx, "com.atproto.sync.getRepo", { query: `did=${remote.did}` });
      const verified = await verifyRepoCar(repo.body, remote.did, creds.body.verificationMethods.atproto);
      expect(verified.creates.map((c) => `${c.collection}/${c.rkey}`).sort()).toEqual(["app.bsky.actor.profile/self", "app.bsky.feed.post/3kaaaaaaaaa22", "app.bsky.graph.follow/3kaaaaaaaaa23"]);
      const blobRes = await xrpc(ctx, "com.atproto.sync.getBlob", { query: `did=${remote.did}&cid=${source.avatarCid}` });
      expect(blobRes.status).toBe(200);
      // Active now: no more imports.
      const late = await xrpc(ctx, "com.atproto.repo.importRepo", { auth: bearer, ...car(source.bytes) });
      expect([late.status, late.body.error]).toEqual([400, "InvalidRequest"]);
      const post = await xrpc(ctx, "com.atproto.repo.createRecord", {
        auth: bearer,
        body: { repo: remote.did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: "after", createdAt: new Date().toISOString() } },
      });
      expect(post.status).toBe(200);
    });

    test("bad CARs are refused and nothing is imported", async () => {
      const remote = await remoteDid(plc.url);
      const created = await signUp(remote, `Bearer ${await token(remote)}`);
      expect(created.status).toBe(200);
      const bearer = `Bearer ${created.body.accessJwt}`;
      const other = await remoteDid(plc.url);
      const good = await sourceCar(remote.did, remote.signing, fakePng(10));
      const oversized = (await sourceCar(remote.did, remote.signing, fakePng(10), "x".repeat(IMPORT_LIMIT))).bytes;
      const cases: [string, Uint8Array | AsyncIterable<Uint8Array>, number, string][] = [
        ["another DID's repository", (await sourceCar(other.did, other.signing, fakePng(11))).bytes, 400, "InvalidRequest"],
        ["a bad signature", (await sourceCar(remote.did, other.signing, fakePng(12))).bytes, 400, "InvalidRequest"],
        ["a truncated CAR", good.bytes.slice(0, good.bytes.length - 40), 400, "InvalidRequest"],
        ["not a CAR", new TextEncoder().encode("hello"), 400, "InvalidRequest"],
        ["an oversized CAR", oversized, 413, "PayloadTooLarge"],
      ];
      for (const [what, data, status, error] of cases) {
        const res = await xrpc(ctx, "com.atproto.repo.importRepo", { auth: bearer, ...car(data as Uint8Array) });
        expect({ what, status: res.status, error: res.body.error }).toEqual({ what, status, error });
        expect(await repoRows(remote.did)).toEqual(empty);
      }
      // Streamed without a length: cut at the limit all the same.
      let offset = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (offset >= oversized.length) return c.close();
          c.enqueue(oversized.slice(offset, (offset += 16 * 1024)));
        },
      });
      const res = await ctx.handle(
        new Request(`${ctx.config.service.publicUrl}/xrpc/com.atproto.repo.importRepo`, {
          method: "POST",
          headers: { authorization: bearer, "content-type": "application/vnd.ipld.car" },
          body: stream,
          duplex: "half",
        } as RequestInit),
      );
      expect(res.status).toBe(413);
      expect(await repoRows(remote.did)).toEqual(empty);
      // Without an import there is nothing to activate.
      expect((await xrpc(ctx, "com.atproto.server.checkAccountStatus", { auth: bearer })).body.error).toBe("RepoNotFound");
    });

    test("an MST in the wrong shape is refused, nothing imported", async () => {
      const remote = await remoteDid(plc.url);
      const created = await signUp(remote, `Bearer ${await token(remote)}`);
      const bearer = `Bearer ${created.body.accessJwt}`;
      const res = await xrpc(ctx, "com.atproto.repo.importRepo", { auth: bearer, ...car(await misshapenCar(remote.did, remote.signing)) });
      expect([res.status, res.body.error]).toEqual([400, "InvalidRequest"]);
      expect(res.body.message).toContain("the MST is not in canonical shape");
      expect(await repoRows(remote.did)).toEqual(empty);
    });

    test("createAccount: a token for another DID or method, a deleted DID, a DID already here; reserveSigningKey is the key handed out", async () => {
      const remote = await remoteDid(plc.url);
      const wrongMethod = await signUp(remote, `Bearer ${await token(remote, remote.signing, "com.atproto.repo.importRepo")}`);
      expect([wrongMethod.status, wrongMethod.body.error]).toEqual([401, "BadJwtLexiconMethod"]);
      const wrongKey = await signUp(remote, `Bearer ${await token(remote, remote.rotation)}`);
      expect([wrongKey.status, wrongKey.body.error]).toEqual([401, "BadJwtSignature"]);
      const other = await remoteDid(plc.url);
      const forOther = await signUp(remote, `Bearer ${await token(other)}`);
      expect(forOther.status).toBe(401);

      const reserved = await xrpc(ctx, "com.atproto.server.reserveSigningKey", { body: { did: remote.did } });
      expect(reserved.body.signingKey).toStartWith("did:key:");
      expect((await xrpc(ctx, "com.atproto.server.reserveSigningKey", { body: { did: remote.did } })).body).toEqual(reserved.body);
      const created = await signUp(remote, `Bearer ${await token(remote)}`);
      expect(created.status).toBe(200);
      const creds = await xrpc(ctx, "com.atproto.identity.getRecommendedDidCredentials", { auth: `Bearer ${created.body.accessJwt}` });
      expect(creds.body.verificationMethods.atproto).toBe(reserved.body.signingKey);
      const left = await ctx.db.db().selectFrom("reserved_signing_key").select("key_did").where("for_did", "=", remote.did).execute();
      expect(left).toEqual([]);
      const again = await signUp(remote, `Bearer ${await token(remote)}`);
      expect([again.status, again.body.message]).toEqual([400, `An account with this DID already exists here: ${remote.did}`]);

      const gone = await remoteDid(plc.url);
      await ctx.db.db().insertInto("deleted_account").values({ did: gone.did, deleted_at: new Date().toISOString() }).execute();
      const refused = await signUp(gone, `Bearer ${await token(gone)}`);
      expect([refused.status, refused.body.message]).toEqual([400, `This DID was deleted from this server: ${gone.did}`]);
      expect(await ctx.db.db().selectFrom("account").select("did").where("did", "=", gone.did).execute()).toEqual([]);
    });
  });
}
