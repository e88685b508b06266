import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { SignJWT, errors, jwtVerify } from "jose";
import { Hs256Error, type Hs256Expectations, verifyHs256 } from "./hs256";

const key = new TextEncoder().encode("a test secret of some length 0123456789");
const otherKey = new TextEncoder().encode("another secret");
const NOW = 1_900_000_000;
const expect1: Hs256Expectations = { typ: "at+jwt", audience: "did:web:pds.example", issuer: "https://pds.example" };

type Verdict = "ok" | "expired" | "invalid";

async function joseVerdict(token: string, ex: Hs256Expectations, nowSeconds = NOW): Promise<Verdict> {
  try {
    await jwtVerify(token, key, {
      algorithms: ["HS256"],
      typ: ex.typ,
      audience: ex.audience,
      ...(ex.issuer === undefined ? {} : { issuer: ex.issuer }),
      currentDate: new Date(nowSeconds * 1000),
    });
    return "ok";
  } catch (err) {
    return err instanceof errors.JWTExpired ? "expired" : "invalid";
  }
}

function ourVerdict(token: string, ex: Hs256Expectations, nowSeconds = NOW): Verdict {
  try {
    verifyHs256(token, key, ex, nowSeconds * 1000);
    return "ok";
  } catch (err) {
    if (!(err instanceof Hs256Error)) throw err;
    return err.reason === "expired" ? "expired" : "invalid";
  }
}

const b64 = (text: string) => Buffer.from(text).toString("base64url");

/** A token with any header and claims, HMAC-signed with `k` (or with `signature` as given). */
function craft(header: unknown, claims: unknown, k: Uint8Array = key, signature?: string): string {
  const input = `${b64(typeof header === "string" ? header : JSON.stringify(header))}.${b64(typeof claims === "string" ? claims : JSON.stringify(claims))}`;
  return `${input}.${signature ?? createHmac("sha256", k).update(input).digest("base64url")}`;
}

const goodClaims = { sub: "did:plc:abc", aud: "did:web:pds.example", iss: "https://pds.example", iat: NOW - 10, exp: NOW + 3600, scope: "x" };
const goodHeader = { alg: "HS256", typ: "at+jwt" };

describe("verifyHs256 decides as jose's jwtVerify", () => {
  test("a token jose signed verifies, with its claims", async () => {
    const token = await new SignJWT({ scope: "x" })
      .setProtectedHeader(goodHeader)
      .setSubject("did:plc:abc")
      .setAudience("did:web:pds.example")
      .setIssuer("https://pds.example")
      .setIssuedAt(NOW - 10)
      .setExpirationTime(NOW + 3600)
      .sign(key);
    expect(verifyHs256(token, key, expect1, NOW * 1000)).toEqual({ ...goodClaims });
    expect(await joseVerdict(token, expect1)).toBe("ok");
  });

  const cases: [string, string, Hs256Expectations?, number?][] = [
    ["good", craft(goodHeader, goodClaims)],
    ["wrong key", craft(goodHeader, goodClaims, otherKey)],
    ["alg none, empty signature", `${b64(JSON.stringify({ alg: "none", typ: "at+jwt" }))}.${b64(JSON.stringify(goodClaims))}.`],
    ["alg none, HS256 signature", craft({ alg: "none", typ: "at+jwt" }, goodClaims)],
    ["alg HS512", craft({ alg: "HS512", typ: "at+jwt" }, goodClaims)],
    ["alg hs256 (case)", craft({ alg: "hs256", typ: "at+jwt" }, goodClaims)],
    ["no alg", craft({ typ: "at+jwt" }, goodClaims)],
    ["crit", craft({ ...goodHeader, crit: ["exp"] }, goodClaims)],
    ["typ upper case", craft({ alg: "HS256", typ: "AT+JWT" }, goodClaims)],
    ["typ with application/", craft({ alg: "HS256", typ: "application/at+jwt" }, goodClaims)],
    ["typ of a refresh token", craft({ alg: "HS256", typ: "refresh+jwt" }, goodClaims)],
    ["no typ", craft({ alg: "HS256" }, goodClaims)],
    ["typ not a string", craft({ alg: "HS256", typ: 1 }, goodClaims)],
    ["header is an array", craft("[1]", goodClaims)],
    ["header not JSON", craft("{alg", goodClaims)],
    ["claims an array", craft(goodHeader, "[]")],
    ["claims null", craft(goodHeader, "null")],
    ["claims not JSON", craft(goodHeader, "{sub:")],
    ["claims not UTF-8", `${b64(JSON.stringify(goodHeader))}.${Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString("base64url")}.x`],
    ["expired", craft(goodHeader, { ...goodClaims, exp: NOW - 1 })],
    ["expires this second", craft(goodHeader, { ...goodClaims, exp: NOW })],
    ["expires next second", craft(goodHeader, { ...goodClaims, exp: NOW + 1 })],
    ["expired and wrong audience", craft(goodHeader, { ...goodClaims, exp: NOW - 1, aud: "did:web:other" })],
    ["expired and wrong key", craft(goodHeader, { ...goodClaims, exp: NOW - 1 }, otherKey)],
    ["exp a string", craft(goodHeader, { ...goodClaims, exp: String(NOW + 60) })],
    ["no exp", craft(goodHeader, { ...goodClaims, exp: undefined })],
    ["iat a string", craft(goodHeader, { ...goodClaims, iat: "now" })],
    ["iat in the future", craft(goodHeader, { ...goodClaims, iat: NOW + 600 })],
    ["nbf in the future", craft(goodHeader, { ...goodClaims, nbf: NOW + 1 })],
    ["nbf now", craft(goodHeader, { ...goodClaims, nbf: NOW })],
    ["nbf null", craft(goodHeader, { ...goodClaims, nbf: null })],
    ["aud array holding ours", craft(goodHeader, { ...goodClaims, aud: ["did:web:x", "did:web:pds.example"] })],
    ["aud array without ours", craft(goodHeader, { ...goodClaims, aud: ["did:web:x"] })],
    ["aud wrong", craft(goodHeader, { ...goodClaims, aud: "did:web:pds.example2" })],
    ["no aud", craft(goodHeader, { ...goodClaims, aud: undefined })],
    ["aud null", craft(goodHeader, { ...goodClaims, aud: null })],
    ["iss wrong", craft(goodHeader, { ...goodClaims, iss: "https://evil.example" })],
    ["no iss", craft(goodHeader, { ...goodClaims, iss: undefined })],
    ["no iss, none expected", craft(goodHeader, { ...goodClaims, iss: undefined }), { typ: "at+jwt", audience: "did:web:pds.example" }],
    ["two segments", craft(goodHeader, goodClaims).split(".").slice(0, 2).join(".")],
    ["four segments", `${craft(goodHeader, goodClaims)}.x`],
    ["empty", ""],
    ["dots only", ".."],
    ["signature of 4n+1 characters", `${craft(goodHeader, goodClaims).slice(0, -1)}AAA`],
    ["signature truncated", craft(goodHeader, goodClaims).slice(0, -2)],
    ["signature extended", `${craft(goodHeader, goodClaims)}AAAA`],
  ];
  for (const [name, token, ex = expect1, now = NOW] of cases) {
    test(name, async () => {
      expect(ourVerdict(token, ex, now)).toBe(await joseVerdict(token, ex, now));
    });
  }

  test("every one-character change of a good token gets jose's verdict", async () => {
    const token = craft(goodHeader, goodClaims);
    const alphabet = "AQgw_-.=+/ ";
    let compared = 0;
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (token[i] === c) continue;
        const mutated = token.slice(0, i) + c + token.slice(i + 1);
        const jose = await joseVerdict(mutated, expect1);
        const ours = ourVerdict(mutated, expect1);
        // jose's base64 decoder skips whitespace; we refuse it: stricter only.
        if (c === " " && jose === "ok") {
          expect(ours).toBe("invalid");
          continue;
        }
        if (ours !== jose) throw new Error(`position ${i} to ${JSON.stringify(c)}: ours ${ours}, jose ${jose}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(token.length * 8);
  });

  test("claims with other values: random tokens signed with the right key", async () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const values = [undefined, null, 0, NOW - 1, NOW, NOW + 1, "1", [], {}, true];
    const verdicts = new Map<Verdict, number>();
    for (let i = 0; i < 400; i++) {
      const claims: Record<string, unknown> = { ...goodClaims };
      for (const claim of ["exp", "nbf", "iat", "aud", "iss"]) if (rand() < 0.3) claims[claim] = pick(values);
      if (rand() < 0.2) claims.aud = pick(["did:web:pds.example", ["did:web:pds.example"], ["x", 1], "x"]);
      const header: Record<string, unknown> = { alg: pick(["HS256", "HS256", "HS256", "HS384", "none"]), typ: pick(["at+jwt", "AT+JWT", "application/at+jwt", "jwt", undefined]) };
      const token = craft(header, claims);
      const jose = await joseVerdict(token, expect1);
      expect({ i, claims, header, verdict: ourVerdict(token, expect1) }).toEqual({ i, claims, header, verdict: jose });
      verdicts.set(jose, (verdicts.get(jose) ?? 0) + 1);
    }
    // The generator reaches all three outcomes.
    expect([...verdicts.keys()].sort()).toEqual(["expired", "invalid", "ok"]);
  });

  test("ignoreExpiry accepts an expired token this key signed, nothing else", () => {
    const expired = craft(goodHeader, { ...goodClaims, exp: NOW - 100 });
    expect(verifyHs256(expired, key, { ...expect1, ignoreExpiry: true }, NOW * 1000).sub).toBe("did:plc:abc");
    expect(() => verifyHs256(craft(goodHeader, { ...goodClaims, exp: NOW - 100 }, otherKey), key, { ...expect1, ignoreExpiry: true }, NOW * 1000)).toThrow(Hs256Error);
  });
});
