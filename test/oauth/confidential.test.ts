import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from "@atproto/oauth-types";
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { selfSignedCert } from "@test/support/tls";
import { type TestAccount, newAccount, serverConfig } from "@test/xrpc/support";
import { SCOPE, TestOAuthClient, dpopKey, pkce } from "./kit";

/**
 * A confidential client (private_key_jwt, an ES256 key in its `jwks`) whose
 * metadata document is served over https by a local TLS server, through the
 * whole server: PAR and token with a valid client assertion; a missing one,
 * a replayed jti, one signed by a key the client does not list, and a
 * token request signed with another of the client's keys than at PAR are
 * refused; refresh works with the same key.
 */
describe("OAuth confidential client (private_key_jwt)", () => {
  /** Never looked up in DNS: the server's client registry resolves every name to 127.0.0.1. */
  const HOST = "client.aurora-test.dev";
  const tls = selfSignedCert([HOST]);
  let web: ReturnType<typeof Bun.serve>;
  let origin: string;
  let clientId: string;
  let redirectUri: string;
  let plc: TestPlc;
  let ctx: TestContext;
  let alice: TestAccount;
  /** Two keys the client lists (k1, k2) and one it does not. */
  let k1: { privateKey: CryptoKey; jwk: JWK };
  let k2: { privateKey: CryptoKey; jwk: JWK };
  let stranger: { privateKey: CryptoKey; jwk: JWK };
  let metadataFetches = 0;

  const keyPair = async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    return { privateKey, jwk: await exportJWK(publicKey) };
  };

  /** A client assertion (RFC 7523) for our issuer, signed by `signer` under `kid`. */
  const assertion = (opts: { kid?: string; signer?: CryptoKey; jti?: string } = {}) =>
    new SignJWT({ jti: opts.jti ?? randomBytes(12).toString("base64url") })
      .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? "k1" })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(ctx.config.service.publicUrl)
      .setIssuedAt()
      .sign(opts.signer ?? k1.privateKey);
  const auth = async (opts: Parameters<typeof assertion>[0] = {}) => ({ client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER, client_assertion: await assertion(opts) });

  const client = async () => new TestOAuthClient((r) => ctx.handle(r), "http://localhost", ctx.config.service.publicUrl, await dpopKey(), clientId);

  /** PAR with the given client authentication; the challenge's verifier is returned for the exchange. */
  const par = async (c: TestOAuthClient, clientAuth: Record<string, string>) => {
    const { verifier, challenge } = pkce();
    const res = await c.par({ redirect_uri: redirectUri, ...clientAuth }, challenge);
    return { res, verifier };
  };

  /** PAR (k1) → sign-in → consent: the code and its verifier. */
  const approved = async (c: TestOAuthClient) => {
    const { res, verifier } = await par(c, await auth());
    expect(res.status).toBe(201);
    const back = await c.signInAndAllow(res.body.request_uri, alice.handle, alice.password);
    expect(back.origin).toBe(origin);
    const code = back.searchParams.get("code");
    expect(code).toBeTruthy();
    return { code: code!, verifier };
  };

  beforeAll(async () => {
    [k1, k2, stranger] = await Promise.all([keyPair(), keyPair(), keyPair()]);
    web = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls,
      fetch(req) {
        if (new URL(req.url).pathname !== "/client-metadata.json") return new Response("not found", { status: 404 });
        metadataFetches++;
        return Response.json({
          client_id: clientId,
          client_name: "Confidential test client",
          client_uri: origin,
          redirect_uris: [redirectUri],
          scope: SCOPE,
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          application_type: "web",
          token_endpoint_auth_method: "private_key_jwt",
          token_endpoint_auth_signing_alg: "ES256",
          dpop_bound_access_tokens: true,
          jwks: { keys: [{ ...k1.jwk, kid: "k1", alg: "ES256", use: "sig" }, { ...k2.jwk, kid: "k2", alg: "ES256", use: "sig" }] },
        });
      },
    });
    origin = `https://${HOST}:${web.port}`;
    clientId = `${origin}/client-metadata.json`;
    redirectUri = `${origin}/callback`;
    plc = await startPlc();
    ctx = await testContext(
      // A port and a loopback address in the client_id need the private-address switch.
      { ...serverConfig(plc.url), identity: { plcUrl: plc.url, allowPrivateAddresses: true } },
      { oauthClientFetch: { lookup: async () => [{ address: "127.0.0.1", family: 4 }], ca: tls.cert } },
    );
    alice = await newAccount(ctx, "conf");
  });
  afterAll(async () => {
    await ctx?.close();
    await plc?.stop();
    web?.stop(true);
  });

  test("PAR and token with valid assertions give a session; its refresh works with the same key", async () => {
    const c = await client();
    const { code, verifier } = await approved(c);
    const tokens = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, ...(await auth()) });
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: "DPoP", sub: alice.did, scope: SCOPE });
    // Confidential sessions live longer than public ones, but the access token itself stays short.
    expect(tokens.body.expires_in).toBeLessThanOrEqual(3600);
    const session = await c.xrpc("com.atproto.server.getSession", tokens.body.access_token);
    expect(session.status).toBe(200);
    expect(session.body.did).toBe(alice.did);

    const refreshed = await c.token({ grant_type: "refresh_token", refresh_token: tokens.body.refresh_token, ...(await auth()) });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    expect((await c.xrpc("com.atproto.server.getSession", refreshed.body.access_token)).status).toBe(200);

    // Refresh without an assertion, or with the other listed key, is refused and leaves the session alone.
    const bare = await c.token({ grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token });
    expect([bare.status, bare.body.error]).toEqual([401, "invalid_client"]);
    const otherKey = await c.token({ grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, ...(await auth({ kid: "k2", signer: k2.privateKey })) });
    expect([otherKey.status, otherKey.body.error]).toEqual([400, "invalid_grant"]);
    const again = await c.token({ grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, ...(await auth()) });
    expect(again.status).toBe(200);

    // Revocation authenticates the client too.
    const unauthenticated = await c.dpop("POST", "/oauth/revoke", { body: { client_id: clientId, token: again.body.refresh_token } });
    expect(unauthenticated.body.error).toBe("invalid_client");
    expect((await c.xrpc("com.atproto.server.getSession", again.body.access_token)).status).toBe(200);
    const revoked = await c.dpop("POST", "/oauth/revoke", { body: { client_id: clientId, token: again.body.refresh_token, ...(await auth()) } });
    expect(revoked.status).toBe(200);
    expect((await c.xrpc("com.atproto.server.getSession", again.body.access_token)).status).toBe(401);
    // The metadata document is fetched once and then cached.
    expect(metadataFetches).toBe(1);
  });

  test("PAR without an assertion or with a bad one is 401 invalid_client", async () => {
    const c = await client();
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      "type only": { client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER },
      "wrong type": { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", client_assertion: await assertion() },
      "signed by a key the client does not list": await auth({ signer: stranger.privateKey }),
      "listed kid, unlisted signer": await auth({ kid: "k2", signer: stranger.privateKey }),
      "unknown kid": await auth({ kid: "k9" }),
      "not a JWT": { client_assertion_type: CLIENT_ASSERTION_TYPE_JWT_BEARER, client_assertion: "not.a.jwt" },
    };
    const results: Record<string, string> = {};
    for (const [name, clientAuth] of Object.entries(cases)) {
      const { res } = await par(c, clientAuth);
      results[name] = `${res.status} ${res.body.error}`;
      expect(typeof res.body.error_description).toBe("string");
    }
    expect(results).toEqual(Object.fromEntries(Object.keys(cases).map((name) => [name, "401 invalid_client"])));
  });

  test("a replayed assertion jti is refused, at PAR and at the token endpoint", async () => {
    const c = await client();
    const used = await auth();
    expect((await par(c, used)).res.status).toBe(201);
    const replay = (await par(c, used)).res;
    expect([replay.status, replay.body.error]).toEqual([401, "invalid_client"]);
    expect(replay.body.error_description).toContain("jti");

    const { code, verifier } = await approved(c);
    const tokenAuth = await auth();
    const first = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, ...tokenAuth });
    expect(first.status).toBe(200);
    const second = await c.token({ grant_type: "refresh_token", refresh_token: first.body.refresh_token, ...tokenAuth });
    expect([second.status, second.body.error]).toEqual([401, "invalid_client"]);
    // The refusal came before the refresh token was looked at: it still rotates.
    expect((await c.token({ grant_type: "refresh_token", refresh_token: first.body.refresh_token, ...(await auth()) })).status).toBe(200);
  });

  test("a code exchanged with an assertion from another of the client's keys (kid) than at PAR is invalid_grant", async () => {
    const c = await client();
    const { code, verifier } = await approved(c);
    const other = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, ...(await auth({ kid: "k2", signer: k2.privateKey })) });
    expect([other.status, other.body.error]).toEqual([400, "invalid_grant"]);
    // The code is spent by that attempt: the right key cannot use it afterwards either.
    const late = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, ...(await auth()) });
    expect(late.body.error).toBe("invalid_grant");
  });

  test("a code exchanged without any assertion is 401 invalid_client", async () => {
    const c = await client();
    const { code, verifier } = await approved(c);
    const bare = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri });
    expect([bare.status, bare.body.error]).toEqual([401, "invalid_client"]);
    // Client authentication is checked before the code is taken: it is still good for the real client.
    const real = await c.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, ...(await auth()) });
    expect(real.status).toBe(200);
  });
});
