/**
 * A did:web account moving in and out (SQLite + disk, through ctx.handle).
 * Its document is served by a small server in the test and edited "by hand",
 * as its owner would: first it names the old PDS and key, then Aurora and the
 * key getRecommendedDidCredentials hands out. No PLC directory takes part
 * (the configured one does not exist), and the PLC-operation methods refuse
 * the DID.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { Secp256k1Keypair, verifySignature } from "@atproto/crypto";
import { MemoryBlockstore, Repo, WriteOpAction, getFullRepo, readCar, verifyRepoCar } from "@atproto/repo";
import { mintServiceJwt } from "@/auth/service-jwt";
import { blobCid } from "@/blob/upload";
import { fakePng } from "@test/support/blobs";
import { type TestContext, testContext } from "@test/support/context";
import { serverConfig, xrpc } from "@test/xrpc/support";

const empty = { raw: { type: "application/json", data: new Uint8Array() } };

/** The document a did:web owner publishes: one handle, one atproto key, one PDS. */
function didDocument(did: string, handle: string, signingKey: string, pds: string) {
  return {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
    id: did,
    alsoKnownAs: [`at://${handle}`],
    verificationMethod: [{ id: `${did}#atproto`, type: "Multikey", controller: did, publicKeyMultibase: signingKey.slice("did:key:".length) }],
    service: [{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: pds }],
  };
}

describe("a did:web account moving in and out", () => {
  let web: ReturnType<typeof Bun.serve>;
  let doc: unknown = null;
  let ctx: TestContext;

  beforeAll(async () => {
    web = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (new URL(req.url).pathname === "/.well-known/did.json" && doc ? Response.json(doc) : new Response("not found", { status: 404 })) });
    const base = serverConfig("http://127.0.0.1:9");
    ctx = await testContext({ ...base, identity: { ...base.identity, allowPrivateAddresses: true } });
  });
  afterAll(async () => {
    await ctx?.close();
    web?.stop(true);
  });

  test("in with the old PDS's service auth and a CAR, activated once the document names Aurora; out with getServiceAuth and deactivation", async () => {
    const did = `did:web:localhost%3A${web.port}`;
    const oldKey = await Secp256k1Keypair.create({ exportable: true });
    const handle = `web${randomBytes(3).toString("hex")}.test`;
    doc = didDocument(did, handle, oldKey.did(), "https://old.example");

    // The old PDS's export: a profile with an avatar and a post, signed with the key the document lists.
    const avatar = fakePng(300);
    const avatarRef = blobCid(new Uint8Array(createHash("sha256").update(avatar).digest()));
    const avatarCid = avatarRef.toString();
    const storage = new MemoryBlockstore();
    const createdAt = new Date().toISOString();
    const source = await Repo.create(storage, did, oldKey, [
      { action: WriteOpAction.Create, collection: "app.bsky.actor.profile", rkey: "self", record: { $type: "app.bsky.actor.profile", avatar: { $type: "blob", ref: avatarRef, mimeType: "image/png", size: avatar.length } } as never },
      { action: WriteOpAction.Create, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaa22", record: { $type: "app.bsky.feed.post", text: "from did:web", createdAt } as never },
    ]);
    const chunks: Uint8Array[] = [];
    for await (const chunk of getFullRepo(storage, source.cid)) chunks.push(chunk);

    // Moving in.
    const jwt = await mintServiceJwt(oldKey, { iss: did, aud: ctx.config.service.did, lxm: "com.atproto.server.createAccount" });
    const created = await xrpc(ctx, "com.atproto.server.createAccount", { auth: `Bearer ${jwt}`, body: { handle, email: `${handle}@mail.test`, password: "pw-web", did } });
    expect([created.status, created.body.did]).toEqual([200, did]);
    const bearer = `Bearer ${created.body.accessJwt}`;
    const imported = await xrpc(ctx, "com.atproto.repo.importRepo", { auth: bearer, raw: { type: "application/vnd.ipld.car", data: new Uint8Array(Buffer.concat(chunks)) } });
    expect(imported.status).toBe(200);
    expect((await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: bearer, raw: { type: "image/png", data: avatar } })).status).toBe(200);
    expect((await xrpc(ctx, "com.atproto.server.checkAccountStatus", { auth: bearer })).body).toMatchObject({ activated: false, validDid: false, indexedRecords: 2, expectedBlobs: 1, importedBlobs: 1 });

    // The document still names the old PDS: activation is refused.
    const early = await xrpc(ctx, "com.atproto.server.activateAccount", { auth: bearer, ...empty });
    expect([early.status, early.body.message]).toEqual([400, "DID document atproto_pds service endpoint does not match PDS public url"]);

    // PLC operations are not for did:web, whichever side asks.
    const plcCalls: [string, unknown][] = [
      ["com.atproto.identity.requestPlcOperationSignature", undefined],
      ["com.atproto.identity.signPlcOperation", { token: "AAAAA-AAAAA" }],
      ["com.atproto.identity.submitPlcOperation", { operation: {} }],
    ];
    for (const [nsid, body] of plcCalls) {
      const res = await xrpc(ctx, nsid, { auth: bearer, ...(body === undefined ? empty : { body }) });
      expect({ nsid, status: res.status, error: res.body.error, message: res.body.message }).toEqual({ nsid, status: 400, error: "InvalidRequest", message: expect.stringContaining("only for did:plc") });
    }

    // The owner edits the document by hand, from the recommended credentials.
    const creds = await xrpc(ctx, "com.atproto.identity.getRecommendedDidCredentials", { auth: bearer });
    expect(creds.body.rotationKeys ?? []).toEqual([]);
    expect(creds.body.services.atproto_pds.endpoint).toBe(ctx.config.service.publicUrl);
    doc = didDocument(did, handle, creds.body.verificationMethods.atproto, creds.body.services.atproto_pds.endpoint);
    const activated = await xrpc(ctx, "com.atproto.server.activateAccount", { auth: bearer, ...empty });
    expect(activated.status).toBe(200);
    expect((await xrpc(ctx, "com.atproto.server.checkAccountStatus", { auth: bearer })).body).toMatchObject({ activated: true, validDid: true });
    const events = await ctx.db.db().selectFrom("repo_seq").select("event_type").where("did", "=", did).orderBy("seq").execute();
    expect(events.map((e) => e.event_type)).toEqual(["identity", "account", "sync"]);
    const repo = await xrpc(ctx, "com.atproto.sync.getRepo", { query: `did=${encodeURIComponent(did)}` });
    const verified = await verifyRepoCar(repo.body, did, creds.body.verificationMethods.atproto);
    expect(verified.creates.map((c) => `${c.collection}/${c.rkey}`).sort()).toEqual(["app.bsky.actor.profile/self", "app.bsky.feed.post/3kaaaaaaaaa22"]);
    expect(verified.commit.rev > source.commit.rev).toBe(true); // signed again with the key here

    const post = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: bearer, body: { repo: did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: "here now", createdAt } } });
    expect(post.status).toBe(200);

    // Moving out: a service token for the new PDS, signed with the key here; then deactivation.
    const aud = "did:web:new-pds.example";
    const auth = await xrpc(ctx, "com.atproto.server.getServiceAuth", { auth: bearer, query: `aud=${aud}&lxm=com.atproto.server.createAccount` });
    expect(auth.status).toBe(200);
    const [header, payload, sig] = (auth.body.token as string).split(".");
    expect(JSON.parse(Buffer.from(payload!, "base64url").toString())).toMatchObject({ iss: did, aud, lxm: "com.atproto.server.createAccount" });
    const signed = new TextEncoder().encode(`${header}.${payload}`);
    expect(await verifySignature(creds.body.verificationMethods.atproto, signed, new Uint8Array(Buffer.from(sig!, "base64url")))).toBe(true);
    expect((await xrpc(ctx, "com.atproto.server.deactivateAccount", { auth: bearer, body: {} })).status).toBe(200);

    // The deactivated owner still reads everything; others do not.
    const q = `did=${encodeURIComponent(did)}`;
    const ownRepo = await xrpc(ctx, "com.atproto.sync.getRepo", { auth: bearer, query: q });
    expect(ownRepo.status).toBe(200);
    expect((await readCar(ownRepo.body)).roots.length).toBe(1);
    expect((await xrpc(ctx, "com.atproto.sync.listBlobs", { auth: bearer, query: q })).body).toMatchObject({ cids: [avatarCid] });
    const blob = await xrpc(ctx, "com.atproto.sync.getBlob", { auth: bearer, query: `${q}&cid=${avatarCid}` });
    expect([blob.status, blob.body.length]).toEqual([200, avatar.length]);
    const stranger = await xrpc(ctx, "com.atproto.sync.getRepo", { query: q });
    expect([stranger.status, stranger.body.error]).toEqual([400, "RepoDeactivated"]);
  });
});
