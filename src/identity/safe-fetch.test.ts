import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { selfSignedCert } from "@test/support/tls";
import { type SafeFetchFailure, SafeFetchError, safeFetch } from "./safe-fetch";

const tls = selfSignedCert(["public.example", "localhost"]);
let hits = 0;
let https: ReturnType<typeof Bun.serve>;
let http: ReturnType<typeof Bun.serve>;

const routes = async (req: Request): Promise<Response> => {
  hits++;
  const url = new URL(req.url);
  if (url.pathname === "/big") return new Response("x".repeat(10_000));
  if (url.pathname === "/stream") {
    let sent = 0;
    const body = new ReadableStream({ pull: (c) => (sent++ < 20 ? c.enqueue(new TextEncoder().encode("y".repeat(1000))) : c.close()) });
    return new Response(body);
  }
  if (url.pathname === "/slow") return Bun.sleep(2000).then(() => new Response("late"));
  if (url.pathname === "/loop") return Response.redirect(`${url.origin}/loop`, 302);
  if (url.pathname === "/to-ftp") return new Response(null, { status: 302, headers: { location: "ftp://example.com/x" } });
  if (url.pathname === "/hop") return Response.redirect(`${url.origin}/echo`, 301);
  if (url.pathname === "/echo") return Response.json({ method: req.method, body: await req.text(), host: req.headers.get("host") });
  return new Response("not found", { status: 404 });
};

beforeAll(() => {
  https = Bun.serve({ hostname: "127.0.0.1", port: 0, tls, fetch: routes });
  http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: routes });
});
afterAll(() => {
  https.stop(true);
  http.stop(true);
});

const toLoopback = async () => [{ address: "127.0.0.1", family: 4 }];
const reasonOf = async (p: Promise<unknown>): Promise<SafeFetchFailure | "ok"> => {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (err instanceof SafeFetchError) return err.reason;
    throw err;
  }
};

describe("safeFetch without allowPrivate refuses non-public destinations without connecting", () => {
  test.each([
    ["an IPv4 loopback literal", () => `https://127.0.0.1:${https.port}/echo`, undefined],
    ["an IPv6 loopback literal", () => `https://[::1]:${https.port}/echo`, undefined],
    ["a mapped IPv6 literal", () => `https://[::ffff:127.0.0.1]:${https.port}/echo`, undefined],
    ["a NAT64 literal of loopback", () => `https://[64:ff9b::7f00:1]:${https.port}/echo`, undefined],
    ["a 6to4 literal of a private address", () => `https://[2002:a00:1::1]:${https.port}/echo`, undefined],
    ["a short-form IPv4 literal (the URL parser makes it 127.0.0.1)", () => `https://127.1:${https.port}/echo`, undefined],
    ["a hex IPv4 literal", () => `https://0x7f.0.0.1:${https.port}/echo`, undefined],
    ["a decimal IPv4 literal", () => `https://2130706433:${https.port}/echo`, undefined],
    ["the cloud metadata address", () => `https://169.254.169.254:${https.port}/echo`, undefined],
    ["a name whose DNS answer is CGNAT", () => `https://public.example:${https.port}/echo`, async () => [{ address: "100.64.1.2", family: 4 }]],
    ["a name with one private answer among public ones", () => `https://public.example:${https.port}/echo`, async () => [
      { address: "8.8.8.8", family: 4 },
      { address: "fd00::1", family: 6 },
    ]],
    ["a name the system resolves to loopback", () => `https://localhost:${https.port}/echo`, undefined],
    ["a public-looking name whose DNS answer is loopback", () => `https://public.example:${https.port}/echo`, toLoopback],
    ["plain http", () => `http://public.example:${http.port}/echo`, toLoopback],
  ])("%s", async (_, url, lookup) => {
    const before = hits;
    expect(await reasonOf(safeFetch(url(), { allowPrivate: false, lookup, ca: tls.cert }))).toBe("blocked");
    expect(hits).toBe(before);
  });
});

describe("safeFetch in dev mode (or to the operator's own services)", () => {
  test("fetches over https with the name checked against the certificate, and over http", async () => {
    const res = await safeFetch(`https://public.example:${https.port}/echo`, { allowPrivate: true, lookup: toLoopback, ca: tls.cert });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ method: "GET", host: `public.example:${https.port}` });
    expect((await safeFetch(`http://127.0.0.1:${http.port}/nothing`, { allowPrivate: true })).status).toBe(404);
  });

  test("a connection made in dev mode is never reused by a checked request", async () => {
    const url = `https://public.example:${https.port}/echo`;
    expect((await safeFetch(url, { allowPrivate: true, lookup: toLoopback, ca: tls.cert })).status).toBe(200);
    const before = hits;
    expect(await reasonOf(safeFetch(url, { allowPrivate: false, lookup: toLoopback, ca: tls.cert }))).toBe("blocked");
    expect(hits).toBe(before);
  });

  test("a certificate for another name is refused", async () => {
    const reason = await reasonOf(safeFetch(`https://other.example:${https.port}/echo`, { allowPrivate: true, lookup: toLoopback, ca: tls.cert }));
    expect(reason).toBe("network");
  });

  test("POST sends its body", async () => {
    const res = await safeFetch(`http://127.0.0.1:${http.port}/echo`, { allowPrivate: true, method: "POST", body: '{"a":1}', headers: { "content-type": "application/json" } });
    expect(res.json()).toMatchObject({ method: "POST", body: '{"a":1}' });
  });

  test("redirects are followed, each hop checked again, and bounded", async () => {
    const base = `http://127.0.0.1:${http.port}`;
    const hop = await safeFetch(`${base}/hop`, { allowPrivate: true });
    expect([hop.status, hop.url]).toEqual([200, `${base}/echo`]);
    expect(await reasonOf(safeFetch(`${base}/loop`, { allowPrivate: true, maxRedirects: 3 }))).toBe("protocol");
    expect(await reasonOf(safeFetch(`${base}/to-ftp`, { allowPrivate: true }))).toBe("blocked");
  });

  test("bodies over the limit are cut off, declared or streamed", async () => {
    const base = `http://127.0.0.1:${http.port}`;
    expect(await reasonOf(safeFetch(`${base}/big`, { allowPrivate: true, maxBytes: 1024 }))).toBe("too-large");
    expect(await reasonOf(safeFetch(`${base}/stream`, { allowPrivate: true, maxBytes: 4096 }))).toBe("too-large");
    expect((await safeFetch(`${base}/big`, { allowPrivate: true, maxBytes: 10_000 })).body.length).toBe(10_000);
  });

  test("a slow answer times out", async () => {
    const started = Date.now();
    expect(await reasonOf(safeFetch(`http://127.0.0.1:${http.port}/slow`, { allowPrivate: true, timeoutMs: 200 }))).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
