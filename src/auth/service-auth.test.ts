/**
 * Inbound service auth through the server: a method with auth "service"
 * (mounted for the test; none of Aurora's methods takes service auth alone
 * yet) and uploadBlob ("access-or-service", as in the reference), with
 * issuers whose DID documents live in a real PLC directory. Replays are
 * refused across two nodes sharing PostgreSQL and Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgresjs from "postgres";
import { type Keypair, Secp256k1Keypair } from "@atproto/crypto";
import * as plcLib from "@did-plc/lib";
import { redis } from "@plugins/cache-redis";
import { postgres } from "@plugins/db-postgres";
import { mintServiceJwt } from "@/auth/service-jwt";
import type { UserConfig } from "@/config/schema";
import { methods } from "@/xrpc";
import { query } from "@/xrpc/method";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type Reply, type TestAccount, newAccount, serverConfig, xrpc } from "@test/xrpc/support";

const METHOD = "io.example.serviceOnly";
const testMethods = {
  ...methods,
  [METHOD]: query({ auth: "service", handler: ({ auth }) => ({ caller: auth }) }),
};
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const outcome = (res: Reply) => (res.status === 200 ? "ok" : `${res.status} ${res.body.error}`);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A JWT with whatever header and claims a test needs, signed by `key`. */
async function signJwt(key: Keypair, claims: Record<string, unknown>, header: Record<string, unknown> = { typ: "JWT", alg: key.jwtAlg }) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${Buffer.from(await key.sign(new TextEncoder().encode(input))).toString("base64url")}`;
}

/** A DID that is not hosted here (a service, say), in the PLC directory with its own keys. */
async function remoteIdentity(plcUrl: string) {
  const rotation = await Secp256k1Keypair.create();
  const signing = await Secp256k1Keypair.create();
  const client = new plcLib.Client(plcUrl);
  const did = await client.createDid({
    signingKey: signing.did(),
    handle: "remote.example",
    pds: "https://remote.example",
    rotationKeys: [rotation.did()],
    signer: rotation as never,
  });
  return { did, signing, rotation, client };
}

const call = (ctx: TestContext, token: string, nsid = METHOD) => xrpc(ctx, nsid, { auth: `Bearer ${token}` });

describe("inbound service auth (sqlite)", () => {
  let plc: TestPlc;
  let ctx: TestContext;
  let remote: Awaited<ReturnType<typeof remoteIdentity>>;
  let user: TestAccount;
  let aud: string;
  const mint = (key: Keypair, over: Partial<{ iss: string; aud: string; lxm: string | null; exp: number }> = {}) =>
    mintServiceJwt(key, { iss: remote.did, aud, lxm: METHOD, ...over });

  beforeAll(async () => {
    plc = await startPlc();
    ctx = await testContext(serverConfig(plc.url), { methods: testMethods });
    aud = ctx.config.service.did;
    remote = await remoteIdentity(plc.url);
    user = await newAccount(ctx, "svcin");
  });
  afterAll(async () => {
    await ctx?.close();
    await plc?.stop();
  });

  test("a valid token is accepted once: the caller is the issuer, with the token's method and jti", async () => {
    const token = await mint(remote.signing);
    const res = await call(ctx, token);
    expect(res.status).toBe(200);
    const jti = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).jti;
    expect(res.body.caller).toEqual({ kind: "service", did: remote.did, iss: remote.did, lxm: METHOD, tokenId: jti });
    const again = await call(ctx, token);
    expect([again.status, again.body.error, again.body.message]).toEqual([401, "BadJwt", "jwt has already been used (jti replayed)"]);
  });

  test.each([
    ["wrong aud", () => mint(remote.signing, { aud: "did:web:elsewhere.example" }), "401 BadJwtAudience"],
    ["aud with a fragment", () => mint(remote.signing, { aud: `${aud}#atproto_pds` }), "401 BadJwtAudience"],
    ["expired", () => mint(remote.signing, { exp: nowSeconds() - 30 }), "401 JwtExpired"],
    ["exp more than a day ahead", () => mint(remote.signing, { exp: nowSeconds() + 2 * 86400 }), "401 BadJwt"],
    ["exp absurdly far ahead", () => mint(remote.signing, { exp: 1e300 }), "401 BadJwt"],
    ["another method's lxm", () => mint(remote.signing, { lxm: "io.example.other" }), "401 BadJwtLexiconMethod"],
    ["no lxm", () => mint(remote.signing, { lxm: null }), "401 BadJwtLexiconMethod"],
    ["signed by another key", async () => mint(await Secp256k1Keypair.create()), "401 BadJwtSignature"],
    ["an unknown DID", async () => mint(await Secp256k1Keypair.create(), { iss: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" }), "401 AuthenticationRequired"],
    ["iss not a DID", () => mint(remote.signing, { iss: "remote.example" }), "401 BadJwtIss"],
    ["no jti", () => signJwt(remote.signing, { iss: remote.did, aud, exp: nowSeconds() + 60, lxm: METHOD }), "401 BadJwt"],
    ["typ at+jwt", () => signJwt(remote.signing, { iss: remote.did, aud, exp: nowSeconds() + 60, lxm: METHOD, jti: "x" }, { typ: "at+jwt", alg: "ES256K" }), "401 BadJwtType"],
    ["alg none", () => signJwt(remote.signing, { iss: remote.did, aud, exp: nowSeconds() + 60, lxm: METHOD, jti: "x" }, { alg: "none" }), "401 BadJwtSignature"],
    ["a P-256 header on a k256 key", () => signJwt(remote.signing, { iss: remote.did, aud, exp: nowSeconds() + 60, lxm: METHOD, jti: "y" }, { alg: "ES256" }), "401 BadJwtSignature"],
    ["two parts", async () => (await mint(remote.signing)).split(".").slice(0, 2).join("."), "401 BadJwt"],
    ["claims not JSON", async () => `${b64({ alg: "ES256K" })}.bm90IGpzb24.c2ln`, "401 BadJwt"],
    ["exp not a number", () => signJwt(remote.signing, { iss: remote.did, aud, exp: "later", lxm: METHOD, jti: "z" }), "401 BadJwt"],
  ] as const)("%s → %s", async (_, token, expected) => {
    expect(outcome(await call(ctx, await token()))).toBe(expected);
  });

  test("a session token, Basic credentials or no credentials are not service auth", async () => {
    expect(outcome(await xrpc(ctx, METHOD, { auth: user.bearer }))).toBe("401 BadJwtType");
    expect(outcome(await xrpc(ctx, METHOD, { auth: `Basic ${btoa("admin:test-admin-password")}` }))).toBe("400 InvalidToken");
    expect(outcome(await xrpc(ctx, METHOD))).toBe("401 AuthenticationRequired");
  });

  test("after a key rotation the issuer's document is fetched again; a labeler's #atproto_labeler tokens use its label key", async () => {
    expect(outcome(await call(ctx, await mint(remote.signing)))).toBe("ok"); // the document (old key) is cached now
    const rotated = await Secp256k1Keypair.create();
    const label = await Secp256k1Keypair.create();
    await remote.client.updateData(remote.did, remote.rotation as never, (op) => ({
      ...op,
      verificationMethods: { atproto: rotated.did(), atproto_label: label.did() },
    }));
    expect(outcome(await call(ctx, await mint(rotated)))).toBe("ok");
    expect(outcome(await call(ctx, await mint(remote.signing)))).toBe("401 BadJwtSignature");

    const labeler = `${remote.did}#atproto_labeler`;
    const res = await call(ctx, await mint(label, { iss: labeler }));
    expect(res.status).toBe(200);
    expect(res.body.caller).toMatchObject({ kind: "service", did: remote.did, iss: labeler });
    expect(outcome(await call(ctx, await mint(rotated, { iss: labeler })))).toBe("401 BadJwtSignature");
    // Any other service id is signed with the #atproto key.
    expect(outcome(await call(ctx, await mint(rotated, { iss: `${remote.did}#bsky_fg` })))).toBe("ok");
  });

  test("uploadBlob takes a user's service auth from getServiceAuth, once; the issuer must be an account here", async () => {
    const asked = await xrpc(ctx, "com.atproto.server.getServiceAuth", { auth: user.bearer, query: `aud=${encodeURIComponent(aud)}&lxm=com.atproto.repo.uploadBlob` });
    expect(asked.status).toBe(200);
    const upload = (token: string) => xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: `Bearer ${token}`, raw: { type: "image/png", data: PNG } });
    const first = await upload(asked.body.token);
    expect(first.status).toBe(200);
    expect(first.body.blob.mimeType).toBe("image/png");
    expect(outcome(await upload(asked.body.token))).toBe("401 BadJwt");
    // A token for another method, the remote (not hosted) DID, and a service of the user are refused.
    expect(outcome(await upload((await xrpc(ctx, "com.atproto.server.getServiceAuth", { auth: user.bearer, query: `aud=${encodeURIComponent(aud)}&lxm=${METHOD}` })).body.token))).toBe("401 BadJwtLexiconMethod");
    const key = await Secp256k1Keypair.create();
    await remote.client.updateAtprotoKey(remote.did, remote.rotation as never, key.did());
    expect(outcome(await upload(await mint(key, { lxm: "com.atproto.repo.uploadBlob" })))).toBe("403 AccountNotFound");
    const userKey = await ctx.accounts.signingKey(user.did);
    expect(outcome(await upload(await mint(userKey, { iss: `${user.did}#svc`, lxm: "com.atproto.repo.uploadBlob" })))).toBe("401 BadJwtIss");
    // The account's own access token still works.
    expect(outcome(await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: user.bearer, raw: { type: "image/png", data: PNG } }))).toBe("ok");
  });

  test("a taken-down account's service auth does not reach uploadBlob", async () => {
    const gone = await newAccount(ctx, "svcgone");
    const token = await mintServiceJwt(await ctx.accounts.signingKey(gone.did), { iss: gone.did, aud, lxm: "com.atproto.repo.uploadBlob" });
    await ctx.db.db().updateTable("account").set({ takedown_ref: "mod-1" }).where("did", "=", gone.did).execute();
    expect(outcome(await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: `Bearer ${token}`, raw: { type: "image/png", data: PNG } }))).toBe("401 AccountTakedown");
  });
});

describe("replayed service auth is refused on the other node (postgres + redis)", () => {
  let plc: TestPlc;
  const nodes: TestContext[] = [];
  let dispose: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const base = process.env.AURORA_TEST_POSTGRES_URL;
    const redisUrl = process.env.AURORA_TEST_REDIS_URL;
    if (!base || !redisUrl) throw new Error("AURORA_TEST_POSTGRES_URL / AURORA_TEST_REDIS_URL unset: run via scripts/with-services.ts");
    plc = await startPlc();
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const name = `aurora_svcauth_${id}`;
    const admin = postgresjs(base, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
    dispose = async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    };
    // Two nodes: the same database and the same Redis key prefix, each with plugin instances of its own.
    const node = (): UserConfig => ({
      ...serverConfig(plc.url),
      db: postgres({ url, maxConnections: 4 }),
      cache: redis({ url: redisUrl, keyPrefix: `aurora-svcauth-${id}:` }),
    });
    nodes.push(await testContext(node(), { methods: testMethods }));
    nodes.push(await testContext(node(), { methods: testMethods }));
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await dispose();
    await plc?.stop();
  });

  test("a token accepted by one node is refused by the other, in either order", async () => {
    const [a, b] = nodes as [TestContext, TestContext];
    const remote = await remoteIdentity(plc.url);
    const mint = () => mintServiceJwt(remote.signing, { iss: remote.did, aud: a.config.service.did, lxm: METHOD });
    const first = await mint();
    expect(outcome(await call(a, first))).toBe("ok");
    expect(outcome(await call(b, first))).toBe("401 BadJwt");
    const second = await mint();
    expect(outcome(await call(b, second))).toBe("ok");
    expect(outcome(await call(a, second))).toBe("401 BadJwt");
    // At the same moment on both nodes: exactly one wins.
    const third = await mint();
    const race = await Promise.all([call(a, third), call(b, third)]);
    expect(race.map(outcome).sort()).toEqual(["401 BadJwt", "ok"]);
  });
});
