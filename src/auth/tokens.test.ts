import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { XrpcError } from "@/errors";
import { ACCESS_TTL_SECONDS, REFRESH_TTL_SECONDS, SCOPE, createTokenSigner } from "./tokens";

const SECRET = "tokens-test-secret-0123456789";
const SERVICE = "did:web:pds.example.com";
const DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const signer = createTokenSigner(SECRET, SERVICE);
const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString());
const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString());

const errorOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof XrpcError ? `${err.status} ${err.error}` : String(err);
  }
};

/** A token with chosen header and claims, signed with the test secret unless told otherwise. */
const craft = (claims: Record<string, unknown>, typ: string, opts: { exp?: number; secret?: string; alg?: string } = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? "HS256", typ })
    .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));

describe("session tokens", () => {
  test("access and refresh tokens carry the reference PDS's header and claims", async () => {
    const { accessJwt, refreshJwt, refreshExp } = await signer.sign({ did: DID, scope: SCOPE.appPass, sessionId: "sid-1" });
    expect(header(accessJwt)).toEqual({ alg: "HS256", typ: "at+jwt" });
    expect(header(refreshJwt)).toEqual({ alg: "HS256", typ: "refresh+jwt" });
    const access = payload(accessJwt);
    expect(access).toMatchObject({ sub: DID, aud: SERVICE, scope: "com.atproto.appPass", sid: "sid-1" });
    expect(access.exp - access.iat).toBe(ACCESS_TTL_SECONDS);
    const refresh = payload(refreshJwt);
    expect(refresh).toMatchObject({ sub: DID, aud: SERVICE, scope: "com.atproto.refresh", jti: "sid-1", exp: refreshExp });
    expect(refresh.exp - refresh.iat).toBe(REFRESH_TTL_SECONDS);
    expect(await signer.verifyAccess(accessJwt)).toEqual({ did: DID, scope: SCOPE.appPass, sessionId: "sid-1" });
    expect(await signer.verifyRefresh(refreshJwt)).toEqual({ did: DID, tokenId: "sid-1", exp: refreshExp });
  });

  test("an access token never outlives its session's refresh token", async () => {
    const refreshExp = Math.floor(Date.now() / 1000) + 60;
    const { accessJwt } = await signer.sign({ did: DID, scope: SCOPE.access, sessionId: "s", refreshExp });
    expect(payload(accessJwt).exp).toBe(refreshExp);
  });

  const access = { sub: DID, aud: SERVICE, scope: SCOPE.access, sid: "s" };
  const refresh = { sub: DID, aud: SERVICE, scope: SCOPE.refresh, jti: "r" };
  const past = Math.floor(Date.now() / 1000) - 10;
  test.each([
    ["expired", () => craft(access, "at+jwt", { exp: past }), "400 ExpiredToken"],
    ["signed with another secret", () => craft(access, "at+jwt", { secret: "another-secret-0123456789" }), "400 InvalidToken"],
    ["HS512 instead of HS256", () => craft(access, "at+jwt", { alg: "HS512" }), "400 InvalidToken"],
    ["a refresh token", () => craft(refresh, "refresh+jwt"), "400 InvalidToken"],
    ["typ at+jwt with the refresh scope", () => craft({ ...access, scope: SCOPE.refresh }, "at+jwt"), "400 InvalidToken"],
    ["another audience", () => craft({ ...access, aud: "did:web:other.example" }, "at+jwt"), "400 InvalidToken"],
    ["no audience", () => craft({ sub: DID, scope: SCOPE.access, sid: "s" }, "at+jwt"), "400 InvalidToken"],
    ["a subject that is not a DID", () => craft({ ...access, sub: "alice" }, "at+jwt"), "400 InvalidToken"],
    ["no session id", () => craft({ sub: DID, aud: SERVICE, scope: SCOPE.access }, "at+jwt"), "400 InvalidToken"],
    ["garbage", async () => "a.b.c", "400 InvalidToken"],
  ])("access token %s → %s", async (_, make, expected) => {
    expect(await errorOf(signer.verifyAccess(await make()))).toBe(expected);
  });

  test.each([
    ["expired", () => craft(refresh, "refresh+jwt", { exp: past }), "400 ExpiredToken"],
    ["an access token", () => craft(access, "at+jwt"), "400 InvalidToken"],
    ["without jti", () => craft({ sub: DID, aud: SERVICE, scope: SCOPE.refresh }, "refresh+jwt"), "400 InvalidToken"],
    ["with the access scope", () => craft({ ...refresh, scope: SCOPE.access }, "refresh+jwt"), "400 InvalidToken"],
  ])("refresh token %s → %s", async (_, make, expected) => {
    expect(await errorOf(signer.verifyRefresh(await make()))).toBe(expected);
  });
});
