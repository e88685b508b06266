import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { P256Keypair, Secp256k1Keypair, bytesToMultibase, parseDidKey } from "@atproto/crypto";
import { Registry } from "prom-client";
import { createCacheAside } from "@/cache/aside";
import { memory } from "@/cache/memory";
import type { CachePlugin } from "@/contracts/cache";
import { UpstreamUnavailableError } from "@/errors";
import { createLogger } from "@/log";
import { type TestPlc, startPlc } from "@test/support/plc";
import { signingDidKey } from "./did-doc";
import { createDidResolver } from "./did-resolver";
import { type PlcClient, createPlcClient } from "./plc";
import { createIdentityResolver } from "./resolver";

const caching = { enabled: true, defaultTtl: 300, didDocTtl: 3600, handleTtl: 1800, sessionTtl: 600, repoTtl: 300 };
let plcServer: TestPlc;
let plc: PlcClient;
let cache: CachePlugin;
let web: ReturnType<typeof Bun.serve>;
let rotationKey: Secp256k1Keypair;
let did: string;
let signingKey: string;
const webDocs = new Map<string, unknown>();

beforeAll(async () => {
  plcServer = await startPlc();
  plc = createPlcClient(plcServer.url);
  cache = memory();
  await cache.init({ dataDir: "/nonexistent", log: createLogger("silent"), metrics: new Registry() });
  rotationKey = await Secp256k1Keypair.create({ exportable: true });
  signingKey = (await Secp256k1Keypair.create()).did();
  did = await plc.createDid({ signingKey, handle: "dana.example", pds: "https://pds.example", rotationKeys: [rotationKey.did()], signer: rotationKey });
  web = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const doc = webDocs.get(new URL(req.url).pathname);
      return doc ? Response.json(doc) : new Response("not found", { status: 404 });
    },
  });
});
afterAll(async () => {
  web.stop(true);
  await cache.close();
  await plcServer.stop();
});

/** A resolver over the real PLC and a local did:web host, counting how often each source is asked. */
function counted(opts: { allowPrivate?: boolean; handles?: Record<string, string> } = {}) {
  const calls = { did: 0, handle: 0 };
  const resolveDid = createDidResolver({ plc, allowPrivate: opts.allowPrivate ?? true });
  const resolver = createIdentityResolver({
    cached: createCacheAside(cache, caching, new Registry()),
    resolveDid: (d) => (calls.did++, resolveDid(d)),
    resolveHandle: async (h) => (calls.handle++, opts.handles?.[h] ?? null),
  });
  return { resolver, calls };
}

describe("identity resolver", () => {
  test("did:plc documents come from the PLC directory and are then served from the cache", async () => {
    await cache.delete(`did:doc:${did}`);
    const { resolver, calls } = counted();
    const data = await resolver.resolveAtprotoData(did);
    expect(data).toEqual({ did, handle: "dana.example", pds: "https://pds.example", signingKey });
    await resolver.resolveDid(did);
    expect(calls.did).toBe(1);
    await resolver.resolveDid(did, { forceRefresh: true });
    expect(calls.did).toBe(2);
  });

  test("after an update, invalidating the DID gives the new document", async () => {
    const { resolver } = counted();
    expect((await resolver.resolveAtprotoData(did))?.handle).toBe("dana.example");
    await plc.updateHandle(did, "dana2.example", rotationKey);
    expect((await resolver.resolveAtprotoData(did))?.handle).toBe("dana.example");
    await resolver.invalidateDid(did);
    expect((await resolver.resolveAtprotoData(did))?.handle).toBe("dana2.example");
  });

  test("unknown, malformed and unsupported DIDs resolve to null, and misses are not cached", async () => {
    const { resolver, calls } = counted();
    for (const d of ["did:plc:zzzzzzzzzzzzzzzzzzzzzzzz", "did:plc:short", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", "did:web:a:b"]) {
      expect(await resolver.resolveDid(d)).toBeNull();
    }
    await resolver.resolveDid("did:plc:zzzzzzzzzzzzzzzzzzzzzzzz");
    expect(calls.did).toBe(5);
  });

  test("did:web in dev mode: http on localhost; a document naming another DID is refused", async () => {
    const webDid = `did:web:localhost%3A${web.port}`;
    webDocs.set("/.well-known/did.json", {
      "@context": ["https://www.w3.org/ns/did/v1"],
      id: webDid,
      alsoKnownAs: ["at://erin.example"],
      service: [{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: "https://pds.example" }],
    });
    const { resolver } = counted();
    expect(await resolver.resolveAtprotoData(webDid)).toMatchObject({ did: webDid, handle: "erin.example", pds: "https://pds.example" });
    webDocs.set("/.well-known/did.json", { id: "did:web:someone.else" });
    expect(await resolver.resolveDid(webDid, { forceRefresh: true })).toBeNull();
  });

  test("did:web outside dev mode never reaches a private address", async () => {
    webDocs.set("/.well-known/did.json", { "@context": [], id: `did:web:localhost%3A${web.port}` });
    const { resolver } = counted({ allowPrivate: false });
    expect(await resolver.resolveDid(`did:web:localhost%3A${web.port}`, { forceRefresh: true })).toBeNull();
  });

  test("an unreachable PLC directory is a 503, not a missing DID", async () => {
    const down = createDidResolver({ plc: createPlcClient("http://localhost:1", 1000), allowPrivate: true });
    await expect(down(did)).rejects.toBeInstanceOf(UpstreamUnavailableError);
  });

  test("verifiedHandle holds only when the handle resolves back to the DID", async () => {
    await cache.delete(`did:handle:dana2.example`);
    expect(await counted({ handles: { "dana2.example": did } }).resolver.verifiedHandle(did, { forceRefresh: true })).toBe("dana2.example");
    await cache.delete(`did:handle:dana2.example`);
    expect(await counted({ handles: {} }).resolver.verifiedHandle(did, { forceRefresh: true })).toBeUndefined();
  });
});

describe("signing keys in DID documents", () => {
  test("the Multikey form and the legacy 2019 forms give the same did:key", async () => {
    const k1 = await Secp256k1Keypair.create();
    const p256 = await P256Keypair.create();
    const doc = (type: string, publicKeyMultibase: string) => ({
      id: "did:web:x.example",
      verificationMethod: [{ id: "#atproto", type, controller: "did:web:x.example", publicKeyMultibase }],
    });
    const multikey = (didKey: string) => didKey.slice("did:key:".length);
    // parseDidKey gives the uncompressed key: what the 2019 types carry.
    const legacy = (didKey: string) => bytesToMultibase(parseDidKey(didKey).keyBytes, "base58btc");
    expect(signingDidKey(doc("Multikey", multikey(k1.did())))).toBe(k1.did());
    expect(signingDidKey(doc("EcdsaSecp256k1VerificationKey2019", legacy(k1.did())))).toBe(k1.did());
    expect(signingDidKey(doc("Multikey", multikey(p256.did())))).toBe(p256.did());
    expect(signingDidKey(doc("EcdsaSecp256r1VerificationKey2019", legacy(p256.did())))).toBe(p256.did());
    expect(signingDidKey(doc("Ed25519VerificationKey2020", "z6Mk"))).toBeUndefined();
    expect(signingDidKey(doc("Multikey", "zNotAKey"))).toBeUndefined();
  });
});
