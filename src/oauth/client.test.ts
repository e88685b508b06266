import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from "@atproto/oauth-types";
import { type CryptoKey, type JWK, SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { Registry } from "prom-client";
import { memory } from "@/cache/memory";
import type { CachePlugin } from "@/contracts/cache";
import { createLogger } from "@/log";
import { selfSignedCert } from "@test/support/tls";
import { type ClientRegistry, createClientRegistry } from "./client";
import { OAuthError } from "./errors";
import type { ReplayStore } from "./replay";

const ISSUER = "https://pds.example";
/** Never resolved through DNS: every lookup answers 127.0.0.1. A public suffix, so its reversed-domain scheme is valid. */
const HOST = "client.aurora-test.dev";
const tls = selfSignedCert([HOST]);
const lookup = async () => [{ address: "127.0.0.1", family: 4 }];

/** What the fake client host serves, by path: a JSON body (or a full Response builder), and how often each path was asked for. */
const served = new Map<string, () => Response>();
const hits = new Map<string, number>();
let web: ReturnType<typeof Bun.serve>;
let origin: string;
let cache: CachePlugin;
let key: { privateKey: CryptoKey; publicJwk: JWK };
let otherKey: { privateKey: CryptoKey; publicJwk: JWK };

/** In-memory ReplayStore: the real one lives in replay.ts; this one only has to say "seen before". */
function memoryReplay(): ReplayStore {
  const seen = new Set<string>();
  return {
    async unique(namespace, k) {
      const id = `${namespace}:${k}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    },
  };
}

function registry(allowPrivate = true): ClientRegistry {
  return createClientRegistry({
    issuer: ISSUER,
    cache,
    replay: memoryReplay(),
    allowPrivate,
    fetchOptions: { lookup, ca: tls.cert, timeoutMs: 2000 },
    log: createLogger("silent"),
  });
}

/** A valid public web client's metadata for client_id `${origin}${path}`. */
function webMetadata(path: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: `${origin}${path}`,
    client_name: "Test client",
    redirect_uris: [`${origin}/callback`],
    scope: "atproto transition:generic",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
    application_type: "web",
    dpop_bound_access_tokens: true,
    ...extra,
  };
}

/** Serves `doc` as JSON at `path` and returns the client_id that names it. */
function serve(path: string, doc: unknown): string {
  served.set(path, () => Response.json(doc));
  return `${origin}${path}`;
}

async function keyPair() {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

async function refusal(p: Promise<unknown>): Promise<OAuthError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuthError);
  return err as OAuthError;
}

beforeAll(async () => {
  cache = memory();
  await cache.init({ dataDir: "/nonexistent", log: createLogger("silent"), metrics: new Registry() });
  web = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls,
    fetch(req) {
      const path = new URL(req.url).pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      return served.get(path)?.() ?? new Response("not found", { status: 404 });
    },
  });
  origin = `https://${HOST}:${web.port}`;
  key = await keyPair();
  otherKey = await keyPair();
});
afterAll(async () => {
  web.stop(true);
  await cache.close();
});

describe("discoverable clients", () => {
  test("fetches, validates and returns a public web client", async () => {
    const id = serve("/public.json", webMetadata("/public.json"));
    const client = await registry().get(id);
    expect(client.id).toBe(id);
    expect(client.loopback).toBe(false);
    expect(client.jwks).toBeUndefined();
    expect<readonly string[]>(client.metadata.redirect_uris).toEqual([`${origin}/callback`]);
    expect(client.metadata.token_endpoint_auth_method).toBe("none");
  });

  test("a second get does not fetch again (cached across registries sharing the cache)", async () => {
    const id = serve("/cached.json", webMetadata("/cached.json"));
    await registry().get(id);
    await registry().get(id);
    const reg = registry();
    await Promise.all([reg.get(id), reg.get(id)]);
    expect(hits.get("/cached.json")).toBe(1);
  });

  test("a failed fetch is cached briefly too", async () => {
    const id = `${origin}/missing.json`;
    const reg = registry();
    expect((await refusal(reg.get(id))).message).toContain("HTTP 404");
    expect((await refusal(reg.get(id))).message).toContain("HTTP 404");
    expect(hits.get("/missing.json")).toBe(1);
  });

  test("the same client_id is refused without allowPrivate (a port; a private address)", async () => {
    const id = serve("/private.json", webMetadata("/private.json"));
    const portErr = await refusal(registry(false).get(id));
    expect(portErr.status).toBe(400);
    expect(portErr.error).toBe("invalid_client");
    expect(portErr.message).toContain("port");
    // Without a port the name resolves to 127.0.0.1, which safeFetch refuses before connecting.
    const addressErr = await refusal(registry(false).get(`https://${HOST}/private.json`));
    expect(addressErr.error).toBe("invalid_client");
    expect(addressErr.message).toContain("non-public address");
  });

  test.each([
    ["not https", () => `http://${HOST}:${web.port}/x.json`, "https"],
    ["no path", () => `${origin}/`, "path"],
    ["an IP address", () => `https://127.0.0.1:${web.port}/x.json`, "IP address"],
    ["a fragment", () => `${origin}/x.json#frag`, "fragment"],
  ])("client_id with %s is refused", async (_name, id, words) => {
    const err = await refusal(registry().get(id()));
    expect(err.status).toBe(400);
    expect(err.error).toBe("invalid_client");
    expect(err.message).toContain(words);
  });

  test.each([
    ["answers a redirect", (p: string) => new Response(null, { status: 302, headers: { location: `${origin}/public.json` } }), "redirect"],
    ["answers 201", (p: string) => Response.json(webMetadata(p), { status: 201 }), "HTTP 201"],
    ["is not JSON typed", (p: string) => new Response(JSON.stringify(webMetadata(p)), { headers: { "content-type": "text/plain" } }), "content-type"],
    ["is not JSON", () => new Response("{nope", { headers: { "content-type": "application/json" } }), "not valid JSON"],
    ["is too large", (p: string) => Response.json({ ...webMetadata(p), padding: "x".repeat(70_000) }), "exceeds"],
  ])("a document that %s is refused", async (_name, respond, words) => {
    const path = `/doc-${words.replace(/\W/g, "")}.json`;
    served.set(path, () => respond(path));
    const err = await refusal(registry().get(`${origin}${path}`));
    expect(err.error).toBe("invalid_client");
    expect(err.message).toContain(words);
  });

  const invalid: [string, (p: string) => Record<string, unknown>, string][] = [
    ["client_id differs", (p) => webMetadata(p, { client_id: `${origin}/other.json` }), "does not match"],
    ["client_id missing", (p) => webMetadata(p, { client_id: undefined }), "does not match"],
    ["dpop_bound_access_tokens false", (p) => webMetadata(p, { dpop_bound_access_tokens: false }), "dpop_bound_access_tokens"],
    ["dpop_bound_access_tokens missing", (p) => webMetadata(p, { dpop_bound_access_tokens: undefined }), "dpop_bound_access_tokens"],
    ["no atproto scope", (p) => webMetadata(p, { scope: "transition:generic" }), '"atproto"'],
    ["no scope", (p) => webMetadata(p, { scope: undefined }), '"atproto"'],
    ["response_types without code", (p) => webMetadata(p, { response_types: ["token"] }), '"code"'],
    ["grant_types without authorization_code", (p) => webMetadata(p, { grant_types: ["refresh_token"] }), '"authorization_code"'],
    ["an implicit grant", (p) => webMetadata(p, { grant_types: ["authorization_code", "implicit"] }), "implicit"],
    ["client_secret_basic auth", (p) => webMetadata(p, { token_endpoint_auth_method: "client_secret_basic" }), "client_secret_basic"],
    ["auth method defaulting to client_secret_basic", (p) => webMetadata(p, { token_endpoint_auth_method: undefined }), "client_secret_basic"],
    ["private_key_jwt without keys", (p) => webMetadata(p, { token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256" }), "jwks or jwks_uri"],
    ["private_key_jwt with alg none", (p) => webMetadata(p, { token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "none", jwks: { keys: [] } }), "not supported"],
    ["private_key_jwt without alg", (p) => webMetadata(p, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [] } }), "token_endpoint_auth_signing_alg"],
    ["private_key_jwt with jwks and jwks_uri", (p) => webMetadata(p, { token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256", jwks: { keys: [{ ...key.publicJwk, kid: "k1" }] }, jwks_uri: `${origin}/jwks.json` }), "not both"],
    ["native private_key_jwt", (p) => webMetadata(p, { application_type: "native", token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256", jwks: { keys: [{ ...key.publicJwk, kid: "k1" }] } }), "native"],
    ["none with a signing alg", (p) => webMetadata(p, { token_endpoint_auth_signing_alg: "ES256" }), "token_endpoint_auth_signing_alg"],
    ["no redirect_uris", (p) => webMetadata(p, { redirect_uris: [] }), "redirect_uris"],
    ["web redirect on another origin", (p) => webMetadata(p, { redirect_uris: ["https://elsewhere.example/cb"] }), "same origin"],
    ["web redirect on another port", (p) => webMetadata(p, { redirect_uris: [`https://${HOST}/cb`] }), "same origin"],
    ["web loopback redirect", (p) => webMetadata(p, { redirect_uris: ["http://127.0.0.1/cb"] }), "native clients only"],
    ["web custom-scheme redirect", (p) => webMetadata(p, { redirect_uris: ["dev.aurora-test.client:/cb"] }), "https"],
    ["http redirect to a public host", (p) => webMetadata(p, { application_type: "native", redirect_uris: ["http://app.example/cb"] }), "127.0.0.1"],
    ["localhost redirect", (p) => webMetadata(p, { application_type: "native", redirect_uris: ["http://localhost/cb"] }), "localhost"],
    ["native scheme not the reversed host", (p) => webMetadata(p, { application_type: "native", redirect_uris: ["com.other.app:/cb"] }), "reversed"],
    ["native scheme with //", (p) => webMetadata(p, { application_type: "native", redirect_uris: ["dev.aurora-test.client://cb"] }), "single slash"],
    ["client_uri on another host", (p) => webMetadata(p, { client_uri: "https://elsewhere.example" }), "client_uri"],
    ["logo over http", (p) => webMetadata(p, { logo_uri: "http://127.0.0.1/logo.png" }), "logo_uri"],
  ];
  test.each(invalid)("metadata with %s is refused", async (name, build, words) => {
    const path = `/invalid-${name.replace(/\W+/g, "-")}.json`;
    const id = serve(path, build(path));
    const err = await refusal(registry().get(id));
    expect(err.status).toBe(400);
    expect(err.error).toBe("invalid_client");
    expect(err.message).toContain(words);
  });

  test("a native client may use its reversed-domain scheme, an https URL of its origin, and loopback IPs", async () => {
    const id = serve("/native.json", webMetadata("/native.json", {
      application_type: "native",
      redirect_uris: ["dev.aurora-test.client:/callback", `${origin}/app-link`, "http://127.0.0.1/native-cb"],
    }));
    const client = await registry().get(id);
    expect(client.metadata.application_type).toBe("native");
    expect(client.metadata.redirect_uris).toHaveLength(3);
  });
});

describe("loopback clients", () => {
  test("http://localhost is a public native client with the default redirect URIs, fetched from nowhere", async () => {
    const client = await registry(false).get("http://localhost");
    expect(client.loopback).toBe(true);
    expect(client.metadata.token_endpoint_auth_method).toBe("none");
    expect(client.metadata.application_type).toBe("native");
    expect(client.metadata.scope).toBe("atproto");
    expect(client.metadata.redirect_uris).toEqual(["http://127.0.0.1/", "http://[::1]/"]);
  });

  test("redirect_uri and scope come from the query", async () => {
    const id = `http://localhost?redirect_uri=${encodeURIComponent("http://127.0.0.1/cb")}&scope=${encodeURIComponent("atproto transition:generic")}`;
    const client = await registry(false).get(id);
    expect(client.id).toBe(id);
    expect(client.metadata.redirect_uris).toEqual(["http://127.0.0.1/cb"]);
    expect(client.metadata.scope).toBe("atproto transition:generic");
  });

  test.each([
    ["a port", "http://localhost:8080"],
    ["a path", "http://localhost/app"],
    ["a scope without atproto", `http://localhost?scope=${encodeURIComponent("transition:generic")}`],
    ["a localhost redirect", `http://localhost?redirect_uri=${encodeURIComponent("http://localhost/cb")}`],
    ["an https redirect", `http://localhost?redirect_uri=${encodeURIComponent("https://app.example/cb")}`],
    ["an IP client_id", "http://127.0.0.1/"],
  ])("a loopback client_id with %s is refused", async (_name, id) => {
    const err = await refusal(registry().get(id));
    expect(err.error).toBe("invalid_client");
  });
});

describe("redirectUri", () => {
  test("a registered URI is returned; an unregistered one is invalid_request", async () => {
    const reg = registry();
    const client = await reg.get(serve("/redirects.json", webMetadata("/redirects.json", { redirect_uris: [`${origin}/a`, `${origin}/b`] })));
    expect(reg.redirectUri(client, `${origin}/b`)).toBe(`${origin}/b`);
    for (const bad of [`${origin}/c`, `${origin}/a?x=1`, `${origin}/a/`, "not a url"]) {
      const err = (() => {
        try {
          reg.redirectUri(client, bad);
        } catch (e) {
          return e as OAuthError;
        }
      })();
      expect(err?.error).toBe("invalid_request");
    }
  });

  test("omitted: the only registered URI, else invalid_request", async () => {
    const reg = registry();
    const one = await reg.get(serve("/one.json", webMetadata("/one.json")));
    expect(reg.redirectUri(one, undefined)).toBe(`${origin}/callback`);
    const two = await reg.get(serve("/two.json", webMetadata("/two.json", { redirect_uris: [`${origin}/a`, `${origin}/b`] })));
    expect(() => reg.redirectUri(two, undefined)).toThrow("redirect_uri is required");
  });

  test("loopback IP URIs match on any port, the rest must be equal (RFC 8252 §7.3)", async () => {
    const reg = registry();
    const client = await reg.get(`http://localhost?redirect_uri=${encodeURIComponent("http://127.0.0.1/cb")}&redirect_uri=${encodeURIComponent("http://[::1]/cb")}`);
    expect(reg.redirectUri(client, "http://127.0.0.1:53682/cb")).toBe("http://127.0.0.1:53682/cb");
    expect(reg.redirectUri(client, "http://[::1]:9/cb")).toBe("http://[::1]:9/cb");
    expect(reg.redirectUri(client, "http://127.0.0.1/cb")).toBe("http://127.0.0.1/cb");
    for (const bad of ["http://127.0.0.1:8080/other", "http://localhost:8080/cb", "https://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb?x=1", "http://[::1]:8080/cb#f"]) {
      expect(() => reg.redirectUri(client, bad)).toThrow(OAuthError);
    }
    // Two registered loopback URIs: one must be named.
    expect(() => reg.redirectUri(client, undefined)).toThrow("redirect_uri is required");
  });

  test("a web client's https URI must match exactly, port included", async () => {
    const reg = registry();
    const client = await reg.get(serve("/ports.json", webMetadata("/ports.json")));
    expect(() => reg.redirectUri(client, `https://${HOST}:1/callback`)).toThrow(OAuthError);
  });
});

describe("private_key_jwt", () => {
  const confidential = (path: string, extra: Record<string, unknown> = {}) =>
    webMetadata(path, {
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_signing_alg: "ES256",
      jwks: { keys: [{ ...key.publicJwk, kid: "k1", alg: "ES256", use: "sig" }] },
      ...extra,
    });

  async function assertion(clientId: string, opts: { aud?: string | string[]; exp?: number; iat?: number; jti?: string; kid?: string; signer?: CryptoKey } = {}) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: opts.jti ?? crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? "k1" })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(opts.aud ?? ISSUER)
      .setIssuedAt(opts.iat ?? now)
      .setExpirationTime(opts.exp ?? now + 60)
      .sign(opts.signer ?? key.privateKey);
  }
  const form = (client_assertion: string) => ({ client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER, client_assertion });

  test("a valid assertion authenticates and names kid, alg and the key's thumbprint", async () => {
    const reg = registry();
    const client = await reg.get(serve("/conf.json", confidential("/conf.json")));
    expect(client.jwks?.keys).toHaveLength(1);
    const auth = await reg.authenticate(client, form(await assertion(client.id, { aud: [ISSUER, "https://other.example"] })));
    expect(auth).toEqual({ method: "private_key_jwt", kid: "k1", alg: "ES256", jkt: await calculateJwkThumbprint(key.publicJwk, "sha256") });
  });

  test("keys from jwks_uri work the same, and are cached", async () => {
    served.set("/conf-jwks.json", () => Response.json({ keys: [{ ...key.publicJwk, kid: "k1" }] }));
    const id = serve("/conf-uri.json", confidential("/conf-uri.json", { jwks: undefined, jwks_uri: `${origin}/conf-jwks.json` }));
    const reg = registry();
    const client = await reg.get(id);
    await reg.get(id);
    expect(hits.get("/conf-jwks.json")).toBe(1);
    const auth = await reg.authenticate(client, form(await assertion(id)));
    expect(auth.method).toBe("private_key_jwt");
  });

  test("a jwks_uri that does not serve a key set is refused", async () => {
    served.set("/bad-jwks.json", () => Response.json({ keys: "nope" }));
    const id = serve("/conf-bad-uri.json", confidential("/conf-bad-uri.json", { jwks: undefined, jwks_uri: `${origin}/bad-jwks.json` }));
    expect((await refusal(registry().get(id))).message).toContain("jwks");
  });

  test.each([
    ["wrong aud", async (id: string) => form(await assertion(id, { aud: "https://other.example" })), "aud"],
    ["expired", async (id: string) => form(await assertion(id, { iat: Math.floor(Date.now() / 1000) - 30, exp: Math.floor(Date.now() / 1000) - 10 })), "exp"],
    ["too old", async (id: string) => form(await assertion(id, { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) + 60 })), "iat"],
    ["unknown kid", async (id: string) => form(await assertion(id, { kid: "k2" })), "no applicable key"],
    ["signed by another key", async (id: string) => form(await assertion(id, { signer: otherKey.privateKey })), "signature"],
    ["wrong assertion type", async (id: string) => ({ client_assertion_type: "urn:other", client_assertion: await assertion(id) }), "client_assertion_type"],
    ["no assertion", async () => ({}), "client_assertion"],
    ["another client's iss", async (id: string) => form(await assertion(`${id}x`)), "iss"],
  ])("%s → invalid_client", async (_name, build, words) => {
    const reg = registry();
    const client = await reg.get(serve("/conf-bad.json", confidential("/conf-bad.json")));
    const err = await refusal(reg.authenticate(client, await build(client.id)));
    expect(err.error).toBe("invalid_client");
    expect(err.message).toContain(words);
  });

  test("a replayed jti is refused", async () => {
    const reg = registry();
    const client = await reg.get(serve("/conf-replay.json", confidential("/conf-replay.json")));
    const jwt = await assertion(client.id);
    await reg.authenticate(client, form(jwt));
    const err = await refusal(reg.authenticate(client, form(jwt)));
    expect(err.error).toBe("invalid_client");
    expect(err.message).toContain("jti");
    // A fresh jti from the same client is fine.
    expect((await reg.authenticate(client, form(await assertion(client.id)))).method).toBe("private_key_jwt");
  });

  test("a public client sending an assertion is refused; without one it is method none", async () => {
    const reg = registry();
    const client = await reg.get(serve("/pub-auth.json", webMetadata("/pub-auth.json")));
    expect(await reg.authenticate(client, {})).toEqual({ method: "none" });
    const err = await refusal(reg.authenticate(client, form(await assertion(client.id))));
    expect(err.error).toBe("invalid_client");
  });
});
