import { expect, test } from "bun:test";
import { Secp256k1Keypair } from "@atproto/crypto";
import { verifyJwt } from "@atproto/xrpc-server";
import { mintServiceJwt } from "./service-jwt";

test("a minted service JWT verifies with @atproto/xrpc-server against the signing key, with aud and lxm checked", async () => {
  const key = await Secp256k1Keypair.create();
  const iss = "did:plc:serviceauthtest000000000";
  const jwt = await mintServiceJwt(key, { iss, aud: "did:web:appview.test#bsky_appview", lxm: "app.bsky.feed.getTimeline" });
  const payload = await verifyJwt(jwt, "did:web:appview.test#bsky_appview", "app.bsky.feed.getTimeline", async () => key.did());
  expect(payload.iss).toBe(iss);
  expect(payload.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(60);
  expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  await expect(verifyJwt(jwt, "did:web:appview.test#bsky_appview", "app.bsky.feed.getAuthorFeed", async () => key.did())).rejects.toThrow();
  await expect(verifyJwt(jwt, "did:web:other.test", "app.bsky.feed.getTimeline", async () => key.did())).rejects.toThrow();
  const other = await Secp256k1Keypair.create();
  await expect(verifyJwt(jwt, "did:web:appview.test#bsky_appview", "app.bsky.feed.getTimeline", async () => other.did())).rejects.toThrow();
});
