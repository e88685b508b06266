import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestDns, startDns } from "@test/support/dns";
import { selfSignedCert } from "@test/support/tls";
import { createHandleResolver } from "./handle-resolver";

const ALICE = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
const BOB = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb";
const tls = selfSignedCert(["bob.example", "carol.example", "dave.example"]);
let dns: TestDns;
let web: ReturnType<typeof Bun.serve>;
let webHits = 0;

beforeAll(async () => {
  dns = await startDns();
  web = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls,
    fetch(req) {
      webHits++;
      const host = new URL(req.url).hostname;
      if (new URL(req.url).pathname !== "/.well-known/atproto-did") return new Response("", { status: 404 });
      if (host === "bob.example") return new Response(`${BOB}\n`);
      if (host === "carol.example") return new Response("<html>not a did</html>");
      return new Response("", { status: 404 });
    },
  });
});
afterAll(() => {
  dns.stop();
  web.stop(true);
});

/** A resolver whose DNS is the test server and whose HTTPS step reaches the local TLS server. */
const resolver = (allowPrivate: boolean) =>
  createHandleResolver({
    allowPrivate,
    timeoutMs: 1000,
    dnsServers: [dns.server],
    wellKnownUrl: (handle) => `https://${handle}:${web.port}/.well-known/atproto-did`,
    lookup: async () => [{ address: "127.0.0.1", family: 4 }],
    ca: tls.cert,
  });

describe("handle resolution", () => {
  test("DNS TXT _atproto.<handle> answers first; other TXT records are ignored", async () => {
    dns.records.set("_atproto.alice.example", [["v=spf1 -all"], [`did=${ALICE}`]]);
    const before = webHits;
    expect(await resolver(true)("alice.example")).toBe(ALICE);
    expect(dns.queries).toContain("_atproto.alice.example");
    expect(webHits).toBe(before);
  });

  test("two different DIDs in DNS are no answer", async () => {
    dns.records.set("_atproto.twins.example", [[`did=${ALICE}`], [`did=${BOB}`]]);
    expect(await resolver(true)("twins.example")).toBeNull();
  });

  test("without a DNS record, HTTPS /.well-known/atproto-did answers", async () => {
    expect(await resolver(true)("bob.example")).toBe(BOB);
  });

  test("an answer that is not a DID, or no answer at all, resolves to null", async () => {
    expect(await resolver(true)("carol.example")).toBeNull();
    expect(await resolver(true)("dave.example")).toBeNull();
  });

  test("outside dev mode the HTTPS step never reaches a private address", async () => {
    const before = webHits;
    expect(await resolver(false)("bob.example")).toBeNull();
    expect(webHits).toBe(before);
  });
});
