/**
 * A rotation tidies up the account's dead refresh-token rows. Nodes' clocks
 * disagree a little (and, badly run, a lot): a node whose clock is ahead
 * must not delete a row another node still counts in its grace window
 * (found by test/faults/clock-jump.e2e.ts with a node 10 minutes fast).
 */
import { afterAll, beforeAll, expect, setSystemTime, test } from "bun:test";
import { decodeJwt } from "jose";
import { type TestContext, testContext } from "@test/support/context";
import { createSessionStore, REFRESH_GRACE_MS } from "./sessions";
import { createTokenSigner } from "./tokens";

const DID = "did:plc:sessionclock000000000000";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext();
});
afterAll(async () => {
  setSystemTime();
  await ctx?.close();
});

test("a rotation on a node 11 minutes fast leaves another session's predecessor in its grace window", async () => {
  const store = createSessionStore({
    db: () => ctx.db.db(),
    transaction: (fn) => ctx.db.transaction(fn),
    tokens: createTokenSigner("sessions-clock-secret-0123456789", "did:web:localhost"),
    cached: ctx.cached,
    cacheLookups: false,
  });
  const idOf = (tokens: { refreshJwt: string }) => decodeJwt(tokens.refreshJwt).jti!;
  const a = idOf(await store.open(DID, null));
  const b = idOf(await store.open(DID, null));

  const first = await store.rotate(a);
  expect(first).not.toBeNull();
  // Another node, its clock past the end of a's grace window, rotates b.
  setSystemTime(new Date(Date.now() + REFRESH_GRACE_MS + 60_000));
  try {
    expect(await store.rotate(b)).not.toBeNull();
  } finally {
    setSystemTime();
  }
  // Back on a node with the right clock, a's client retries its refresh within the grace window.
  const retried = await store.rotate(a);
  expect(retried).not.toBeNull();
  expect(idOf(retried!)).toBe(idOf(first!));
});
