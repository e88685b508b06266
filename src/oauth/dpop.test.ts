import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { parseDidKey, Secp256k1Keypair } from "@atproto/crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { XrpcError } from "@/errors";
import { OAuthError } from "./errors";
import { createDpopVerifier, resourceServerError } from "./dpop";
import { createDpopNonces } from "./nonce";
import type { ReplayStore } from "./replay";

const PUBLIC_URL = "https://pds.example.com";
const TOKEN = "access-token-value";
const ATH = createHash("sha256").update(TOKEN).digest("base64url");

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const seconds = (ms: number) => Math.floor(ms / 1000);

async function setup() {
  const clock = { t: 1_750_000_000_000 };
  const nonces = createDpopNonces("secret", { now: () => clock.t });
  const seen = new Set<string>();
  const replayCalls: { namespace: string; ttl: number }[] = [];
  const replay: ReplayStore = {
    async unique(namespace, key, ttl) {
      replayCalls.push({ namespace, ttl });
      if (seen.has(`${namespace}|${key}`)) return false;
      seen.add(`${namespace}|${key}`);
      return true;
    },
  };
  const verifier = createDpopVerifier({ publicUrl: PUBLIC_URL, nonces, replay, now: () => clock.t });
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  let n = 0;
  /** A proof of the ES256 key for `claims` on top of good defaults (undefined removes a claim). */
  const proof = async (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => {
    const payload = Object.fromEntries(Object.entries({
      jti: `jti-${n++}`, htm: "GET", htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`, iat: seconds(clock.t),
      nonce: nonces.current(), ath: ATH, ...claims,
    }).filter(([, v]) => v !== undefined));
    return new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk, ...header }).sign(privateKey);
  };
  const request = (dpop: string | string[] | null, init: { method?: string; url?: string } = {}) => {
    const headers = new Headers();
    for (const value of dpop === null ? [] : [dpop].flat()) headers.append("DPoP", value);
    // The node's own address, as nginx forwards it: htu is built from publicUrl, not from this.
    return new Request(init.url ?? "http://10.0.0.7:3000/xrpc/com.atproto.repo.listRecords?repo=did:plc:x&limit=5", { method: init.method ?? "GET", headers });
  };
  return { clock, nonces, verifier, proof, request, jwk, privateKey, replayCalls };
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  if (!(err instanceof OAuthError)) throw new Error(`expected an OAuthError, got ${String(err)}`);
  return err;
}

describe("DPoP proof verification", () => {
  test("a good proof: its key thumbprint and claims; query string and the node's own host do not matter", async () => {
    const s = await setup();
    const checked = await s.verifier.check(s.request(await s.proof()), { accessToken: TOKEN });
    expect(checked).toEqual({
      jkt: await calculateJwkThumbprint(s.jwk, "sha256"),
      jti: "jti-0",
      htm: "GET",
      htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`,
      iat: seconds(s.clock.t),
      nonce: s.nonces.current(),
    });
    expect(s.replayCalls).toEqual([{ namespace: "dpop", ttl: 75 }]);
  });

  test("no DPoP header: null, and nothing is checked", async () => {
    const s = await setup();
    expect(await s.verifier.check(s.request(null), {})).toBeNull();
    expect(s.replayCalls).toEqual([]);
  });

  test("htu: a query or fragment in the proof is ignored; host case and default port are normalised", async () => {
    const s = await setup();
    for (const htu of [
      `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords?repo=other`,
      `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords#frag`,
      "https://PDS.Example.com:443/xrpc/com.atproto.repo.listRecords",
    ]) {
      expect((await s.verifier.check(s.request(await s.proof({ htu })), {}))?.htu).toBe(htu);
    }
  });

  test("without accessToken, ath is not required (authorization server endpoints)", async () => {
    const s = await setup();
    const req = s.request(await s.proof({ ath: undefined, htm: "POST", htu: `${PUBLIC_URL}/oauth/par` }), { method: "POST", url: "http://127.0.0.1:2583/oauth/par" });
    expect((await s.verifier.check(req, {}))?.htm).toBe("POST");
  });

  test.each([
    ["no iat", { iat: undefined }, "DPoP proof has no iat"],
    ["iat not a number", { iat: "now" }, "DPoP proof has no iat"],
    ["expired iat (66 s old)", { iat: -66 }, "DPoP proof is too old (iat)"],
    ["iat 11 s in the future", { iat: 11 }, "DPoP proof iat is in the future"],
    ["wrong htm", { htm: "POST" }, 'DPoP htm "POST" does not match the request method GET'],
    ["no htm", { htm: undefined }, "DPoP proof has no htm"],
    ["htu of another path", { htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.getRecord` }, "DPoP htu does not match the request URL"],
    ["htu of another origin", { htu: "https://evil.example.com/xrpc/com.atproto.repo.listRecords" }, "DPoP htu does not match"],
    ["htu of the node's own host", { htu: "http://10.0.0.7:3000/xrpc/com.atproto.repo.listRecords" }, "DPoP htu does not match"],
    ["htu not a URL", { htu: "not a url" }, "DPoP htu is not a URL"],
    ["no htu", { htu: undefined }, "DPoP proof has no htu"],
    ["bad ath", { ath: createHash("sha256").update("other").digest("base64url") }, "DPoP ath does not match the access token"],
    ["no ath", { ath: undefined }, "DPoP proof has no ath (access token hash)"],
    ["no jti", { jti: undefined }, "DPoP proof jti must be a string"],
    ["jti too long", { jti: "j".repeat(257) }, "DPoP proof jti must be a string"],
  ])("refuses %s with invalid_dpop_proof", async (_what, claims, message) => {
    const s = await setup();
    const adjusted = { ...claims } as Record<string, unknown>;
    if (typeof adjusted.iat === "number") adjusted.iat = seconds(s.clock.t) + adjusted.iat;
    const err = await refusal(s.verifier.check(s.request(await s.proof(adjusted)), { accessToken: TOKEN }));
    expect([err.status, err.error]).toEqual([400, "invalid_dpop_proof"]);
    expect(err.message).toStartWith(message);
    expect(s.replayCalls).toEqual([]);
  });

  test("iat at the edges of the window is accepted (65 s old, 10 s ahead)", async () => {
    const s = await setup();
    for (const offset of [-65, 10]) {
      expect(await s.verifier.check(s.request(await s.proof({ iat: seconds(s.clock.t) + offset })), { accessToken: TOKEN })).not.toBeNull();
    }
  });

  test("no nonce: use_dpop_nonce carrying the current nonce", async () => {
    const s = await setup();
    const err = await refusal(s.verifier.check(s.request(await s.proof({ nonce: undefined })), { accessToken: TOKEN }));
    expect([err.status, err.error, err.headers]).toEqual([400, "use_dpop_nonce", { "dpop-nonce": s.nonces.current() }]);
    expect(s.verifier.nonce()).toBe(s.nonces.current());
  });

  test("a stale or made-up nonce: use_dpop_nonce; a nonce of the previous step still passes", async () => {
    const s = await setup();
    const old = s.nonces.current();
    s.clock.t += 60_000;
    expect(await s.verifier.check(s.request(await s.proof({ nonce: old })), { accessToken: TOKEN })).not.toBeNull();
    s.clock.t += 60_000;
    for (const nonce of [old, "made-up", 42]) {
      const err = await refusal(s.verifier.check(s.request(await s.proof({ nonce })), { accessToken: TOKEN }));
      expect([err.error, err.headers["dpop-nonce"]]).toEqual(["use_dpop_nonce", s.nonces.current()]);
    }
  });

  test("a replayed proof is refused, by key and jti, for the whole acceptance window", async () => {
    const s = await setup();
    const proof = await s.proof();
    await s.verifier.check(s.request(proof), { accessToken: TOKEN });
    const err = await refusal(s.verifier.check(s.request(proof), { accessToken: TOKEN }));
    expect([err.error, err.message]).toEqual(["invalid_dpop_proof", "DPoP proof replayed"]);
    // The same jti under another key is a different proof.
    const other = await generateKeyPair("ES256");
    const otherProof = await new SignJWT({ jti: "jti-0", htm: "GET", htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`, iat: seconds(s.clock.t), nonce: s.nonces.current(), ath: ATH })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await exportJWK(other.publicKey) })
      .sign(other.privateKey);
    expect(await s.verifier.check(s.request(otherProof), { accessToken: TOKEN })).not.toBeNull();
  });

  test("two DPoP headers are refused", async () => {
    const s = await setup();
    const err = await refusal(s.verifier.check(s.request([await s.proof(), await s.proof()]), { accessToken: TOKEN }));
    expect(err.message).toBe("Exactly one DPoP header is allowed");
  });

  test("HS256, none and an unknown alg are refused before any key is used", async () => {
    const s = await setup();
    const secret = new TextEncoder().encode("shared secret shared secret 1234");
    const payload = { jti: "x", htm: "GET", htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`, iat: seconds(s.clock.t), nonce: s.nonces.current(), ath: ATH };
    const octJwk: JWK = { kty: "oct", k: Buffer.from(secret).toString("base64url") };
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: octJwk }).sign(secret);
    const hsPublic = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "dpop+jwt", jwk: s.jwk }).sign(secret);
    const none = `${b64({ alg: "none", typ: "dpop+jwt", jwk: s.jwk })}.${b64(payload)}.`;
    const odd = `${b64({ alg: "ES999", typ: "dpop+jwt", jwk: s.jwk })}.${b64(payload)}.c2ln`;
    for (const proof of [hs, hsPublic, none, odd]) {
      const err = await refusal(s.verifier.check(s.request(proof), { accessToken: TOKEN }));
      expect(err.message).toStartWith("DPoP proof alg must be one of ES256, ES256K");
    }
  });

  test("a private key in the header is refused", async () => {
    const s = await setup();
    const privateJwk = await exportJWK(s.privateKey);
    expect(privateJwk.d).toBeString();
    const err = await refusal(s.verifier.check(s.request(await s.proof({}, { jwk: privateJwk })), { accessToken: TOKEN }));
    expect(err.message).toBe("DPoP proof jwk must be a public key");
  });

  test.each([
    ["typ JWT", async (s: Awaited<ReturnType<typeof setup>>) => s.proof({}, { typ: "JWT" }), 'DPoP proof typ must be "dpop+jwt"'],
    ["no jwk", async (s: Awaited<ReturnType<typeof setup>>) => s.proof({}, { jwk: undefined }), "DPoP proof header has no jwk"],
    ["another key's jwk", async (s: Awaited<ReturnType<typeof setup>>) => s.proof({}, { jwk: await exportJWK((await generateKeyPair("ES256")).publicKey) }), "DPoP proof signature is invalid"],
    ["a tampered payload", async (s: Awaited<ReturnType<typeof setup>>) => {
      const [h, , sig] = (await s.proof()).split(".");
      return `${h}.${b64({ jti: "x", htm: "GET", htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`, iat: seconds(s.clock.t), nonce: s.nonces.current(), ath: ATH })}.${sig}`;
    }, "DPoP proof signature is invalid"],
    ["not a JWS", async () => "not.a-jws", "DPoP proof is not a compact JWS"],
    ["garbage header", async () => "!!!.e30.c2ln", "DPoP proof header is unreadable"],
    ["an oversized proof", async () => `${"a".repeat(9000)}.e30.c2ln`, "DPoP proof is too long"],
  ])("refuses %s", async (_what, make, message) => {
    const s = await setup();
    const err = await refusal(s.verifier.check(s.request(await make(s)), { accessToken: TOKEN }));
    expect([err.error, err.message]).toEqual(["invalid_dpop_proof", message]);
  });

  test("ES256K proofs (secp256k1, checked by @atproto/crypto) pass; a wrong signature does not", async () => {
    const s = await setup();
    const key = await Secp256k1Keypair.create();
    const point = parseDidKey(key.did()).keyBytes;
    const jwk: JWK = { kty: "EC", crv: "secp256k1", x: Buffer.from(point.slice(1, 33)).toString("base64url"), y: Buffer.from(point.slice(33)).toString("base64url") };
    const sign = async (payload: Record<string, unknown>) => {
      const input = `${b64({ alg: "ES256K", typ: "dpop+jwt", jwk })}.${b64(payload)}`;
      return `${input}.${Buffer.from(await key.sign(new TextEncoder().encode(input))).toString("base64url")}`;
    };
    const payload = { jti: "k1", htm: "GET", htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`, iat: seconds(s.clock.t), nonce: s.nonces.current(), ath: ATH };
    const checked = await s.verifier.check(s.request(await sign(payload)), { accessToken: TOKEN });
    expect(checked?.jkt).toBe(await calculateJwkThumbprint(jwk, "sha256"));
    const good = await sign({ ...payload, jti: "k2" });
    const forged = `${good.split(".").slice(0, 2).join(".")}.${Buffer.alloc(64, 1).toString("base64url")}`;
    const err = await refusal(s.verifier.check(s.request(forged), { accessToken: TOKEN }));
    expect(err.message).toBe("DPoP proof signature is invalid");
  });

  test("Ed25519 proofs pass", async () => {
    const s = await setup();
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const proof = await new SignJWT({ jti: "ed", htm: "GET", htu: `${PUBLIC_URL}/xrpc/com.atproto.repo.listRecords`, iat: seconds(s.clock.t), nonce: s.nonces.current(), ath: ATH })
      .setProtectedHeader({ alg: "EdDSA", typ: "dpop+jwt", jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expect((await s.verifier.check(s.request(proof), { accessToken: TOKEN }))?.jti).toBe("ed");
  });
});

describe("resourceServerError", () => {
  test("use_dpop_nonce becomes a 401 with WWW-Authenticate and DPoP-Nonce, as @atproto/oauth-client expects", () => {
    const err = resourceServerError(new OAuthError(400, "use_dpop_nonce", "DPoP proof must carry the server's nonce"), "n0nce");
    expect(err).toBeInstanceOf(XrpcError);
    expect([err.status, err.toJSON()]).toEqual([401, { error: "use_dpop_nonce", message: "DPoP proof must carry the server's nonce" }]);
    expect(err.responseHeaders).toEqual({
      "WWW-Authenticate": 'DPoP error="use_dpop_nonce", error_description="DPoP proof must carry the server\'s nonce"',
      "DPoP-Nonce": "n0nce",
    });
  });

  test("quotes and backslashes are escaped, line breaks and non-ASCII cannot break the header", () => {
    const err = resourceServerError(new OAuthError(400, "invalid_dpop_proof", 'DPoP htm "P\\ST"\r\nX-Evil: 1 é'), "n");
    const header = err.responseHeaders!["WWW-Authenticate"]!;
    expect(header).toBe('DPoP error="invalid_dpop_proof", error_description="DPoP htm \\"P\\\\ST\\"  X-Evil: 1  "');
    expect(() => new Headers(err.responseHeaders)).not.toThrow();
  });
});
