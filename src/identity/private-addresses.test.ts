import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testContext } from "@test/support/context";

// A did:web document on loopback: what an attacker would point the server at to probe its network.
let hits = 0;
let server: ReturnType<typeof Bun.serve>;
let did: string;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) => {
      hits++;
      if (new URL(req.url).pathname !== "/.well-known/did.json") return new Response("not found", { status: 404 });
      return Response.json({ "@context": ["https://www.w3.org/ns/did/v1"], id: did, alsoKnownAs: ["at://probe.test"] });
    },
  });
  did = `did:web:localhost%3A${server.port}`;
});
afterAll(() => server.stop(true));

describe("identity.allowPrivateAddresses", () => {
  test.each([
    ["dev mode alone does not open the SSRF guard", { service: { devMode: true } }, false],
    ["production default", { service: { hostname: "pds.example.com" } }, false],
    ["the explicit opt-in does", { service: { devMode: true }, identity: { allowPrivateAddresses: true } }, true],
  ])("%s", async (_name, config, reaches) => {
    const ctx = await testContext({ ...config, caching: { enabled: false } });
    try {
      const before = hits;
      const doc = await ctx.identity.resolveDid(did);
      expect({ resolved: doc?.id ?? null, fetched: hits > before }).toEqual({ resolved: reaches ? did : null, fetched: reaches });
    } finally {
      await ctx.close();
    }
  });
});
