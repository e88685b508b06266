/**
 * Rate limits of the request-* email methods (src/rate-limit/rules.ts), through the real request
 * path: per account and per client IP, and for requestPasswordReset per address whether or not an
 * account has it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTokenSigner, SCOPE } from "@/auth/tokens";
import { type TestContext, testContext } from "@test/support/context";

const JWT_SECRET = "test-jwt-secret-0123456789";
const signer = createTokenSigner(JWT_SECRET, "did:web:localhost");
const bearer = async (did: string) => `Bearer ${(await signer.sign({ did, scope: SCOPE.access, sessionId: crypto.randomUUID() })).accessJwt}`;

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext();
});
afterAll(() => ctx.close());

const post = (nsid: string, ip: string, opts: { body?: unknown; auth?: string } = {}) =>
  ctx.handle(
    new Request(`http://localhost/xrpc/${nsid}`, {
      method: "POST",
      headers: { ...(opts.body === undefined ? {} : { "content-type": "application/json" }), ...(opts.auth ? { authorization: opts.auth } : {}) },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    }),
    ip,
  );

describe("requestPasswordReset", () => {
  test("5 an hour per address, from any IPs, the same for an address no account has", async () => {
    for (const email of ["nobody@example.com", "NoBody2@example.com"]) {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await post("com.atproto.server.requestPasswordReset", `198.51.100.${i + 1}`, { body: { email } })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    }
  });

  test("15 an hour per IP, whatever the addresses", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) statuses.push((await post("com.atproto.server.requestPasswordReset", "203.0.113.9", { body: { email: `n${i}@example.com` } })).status);
    expect(statuses.slice(0, 15).every((s) => s === 200)).toBe(true);
    expect(statuses[15]).toBe(429);
  });
});

describe.each(["com.atproto.server.requestEmailConfirmation", "com.atproto.server.requestEmailUpdate", "com.atproto.identity.requestPlcOperationSignature"])("%s", (nsid) => {
  test("5 an hour per account: the sixth is refused before the handler runs", async () => {
    const auth = await bearer(`did:plc:${nsid.endsWith("Update") ? "u" : nsid.endsWith("Signature") ? "p" : "c"}${"a".repeat(23)}`);
    const statuses: number[] = [];
    // No such session: the handler answers an auth error, but each call still counts.
    for (let i = 0; i < 6; i++) statuses.push((await post(nsid, `192.0.2.${i + 1}`, { auth })).status);
    expect(statuses.slice(0, 5).every((s) => s !== 429)).toBe(true);
    expect(statuses[5]).toBe(429);
  });
});

test("15 an hour per IP across both request-email methods and any accounts", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) {
    const nsid = i % 2 ? "com.atproto.server.requestEmailConfirmation" : "com.atproto.server.requestEmailUpdate";
    statuses.push((await post(nsid, "203.0.113.77", { auth: await bearer(`did:plc:ip${String(i).padStart(22, "0")}`) })).status);
  }
  expect(statuses.slice(0, 15).every((s) => s !== 429)).toBe(true);
  expect(statuses[15]).toBe(429);
});

test("requestPlcOperationSignature: 15 an hour per IP, whatever the accounts", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) {
    statuses.push((await post("com.atproto.identity.requestPlcOperationSignature", "203.0.113.78", { auth: await bearer(`did:plc:pl${String(i).padStart(22, "0")}`) })).status);
  }
  expect(statuses.slice(0, 15).every((s) => s !== 429)).toBe(true);
  expect(statuses[15]).toBe(429);
});
