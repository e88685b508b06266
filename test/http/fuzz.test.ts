/**
 * Malformed requests to every route, on SQLite + disk and on PostgreSQL +
 * S3: bad paths, verbs, params, bodies, headers, encodings, NUL bytes and
 * deep nesting, from a seeded generator (a failure names its seed and
 * request, so it replays). No answer may be a 5xx (501 only for a
 * well-formed NSID nobody serves), every error is `{error, message}`, and
 * afterwards the server still serves and the account's repository is intact
 * and verifies.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Kind, type TObject, type TSchema } from "@sinclair/typebox";
import { verifyRepoCar } from "@atproto/repo";
import { methods } from "@/xrpc";
import { type Backend, postgresS3, sqliteDisk } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { startPlc, type TestPlc } from "@test/support/plc";
import { prng } from "@test/support/data-model-fuzz";

const SEED = Number(process.env.AURORA_FUZZ_SEED ?? 20261201);
const PER_ROUTE = Number(process.env.AURORA_FUZZ_PER_ROUTE ?? 60);

/** Seeded choices (test/support/data-model-fuzz.ts prng). */
const rng = prng;

const nested = (depth: number, open: string, close: string, inner = "1") => open.repeat(depth) + inner + close.repeat(depth);
const NASTY_STRINGS = [
  "", "\u0000", "a\u0000b", "app.bsky.feed.post\u0000", "3k\u0000abc", "did:plc:\u0000aaaa", "x".repeat(5000), "../../etc/passwd",
  "%00", "\ud800", "🙂".repeat(50), "' OR 1=1 --", "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/\u0000", "-1", "1e309",
  "NaN", "null", "9".repeat(40), "did:web:127.0.0.1%3A1", "did:web:localhost", "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
  "bafkrei\u0000", "alice.test", "ALICE.TEST", "app.bsky.feed.post", "self", "3kaaaaaaaaaa2",
];
const NASTY_VALUES: unknown[] = [
  ...NASTY_STRINGS, 0, -1, 1.5, 2 ** 53, Number.MAX_VALUE, true, null, [], {}, ["\u0000"], { $type: "\u0000" },
  { $link: "not-a-cid" }, { $bytes: "!!" }, { $type: "blob", ref: { $link: "x" }, mimeType: "\u0000", size: -1 },
];
const QUERY_JUNK = ["%", "%zz", "%00", "a=%ff%fe", "cursor=\u0000", "limit=-5", "limit=99999999999999999999", "=", "&&&", "a[]=1&a[]=2"];
const BODY_JUNK = [
  "", "{", "[]", "null", "\u0000", "{\"a\":\u0000}", nested(5000, "[", "]"), nested(3000, "{\"a\":", "}"), "\"str\"", "1e99999",
  "\xff\xfe\x00\x01", "{\"__proto__\":{\"polluted\":true}}",
];
const CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/json\u0000", "image/png", "multipart/form-data; boundary=x"];
const VERBS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];

interface Case {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

function deepValue(r: ReturnType<typeof rng>): unknown {
  const depth = r.pick([10, 200, 2000, 20000]);
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = r.next() < 0.5 ? [v] : { a: v };
  return v;
}

function jsonFor(schema: TSchema | undefined, r: ReturnType<typeof rng>): unknown {
  const props = schema && schema[Kind] === "Object" ? Object.keys((schema as TObject).properties) : [];
  const out: Record<string, unknown> = {};
  for (const name of props) if (r.next() < 0.8) out[name] = r.next() < 0.15 ? deepValue(r) : r.pick(NASTY_VALUES);
  if (r.next() < 0.2) out[r.pick(NASTY_STRINGS) || "x"] = r.pick(NASTY_VALUES);
  // Records: a plausible shell with nasty insides reaches the lexicon and data-model checks.
  if ("record" in out && r.next() < 0.5) out.record = { $type: r.pick(["app.bsky.feed.post", "\u0000", "x.y.z"]), text: r.pick(NASTY_VALUES), createdAt: r.pick(NASTY_VALUES), deep: deepValue(r) };
  if ("writes" in out && r.next() < 0.5) out.writes = [{ $type: r.pick(["com.atproto.repo.applyWrites#create", "\u0000"]), collection: r.pick(NASTY_STRINGS), rkey: r.pick(NASTY_STRINGS), value: deepValue(r) }];
  return out;
}

function makeCase(nsid: string, r: ReturnType<typeof rng>, tokens: string[]): Case {
  const method = methods[nsid]!;
  const query = new URLSearchParams();
  for (const name of Object.keys(method.params?.properties ?? {})) {
    if (r.next() < 0.7) query.append(name, String(r.pick(NASTY_STRINGS)));
    if (r.next() < 0.1) query.append(name, String(r.pick(NASTY_STRINGS)));
  }
  let qs = query.toString();
  if (r.next() < 0.2) qs += `&${r.pick(QUERY_JUNK)}`;
  const expected = method.type === "procedure" ? "POST" : "GET";
  const verb = r.next() < 0.8 ? expected : r.pick(VERBS);
  const headers: Record<string, string> = {};
  const auth = r.next();
  if (auth < 0.45) headers.authorization = `Bearer ${r.pick(tokens)}`;
  else if (auth < 0.6) headers.authorization = r.pick(["Bearer", "Bearer a.b.c", "Basic !!!", `Basic ${btoa("admin:wrong")}`, "DPoP x", "Bearer \u0001", "x y z", `Bearer ${"a".repeat(9000)}`]);
  if (r.next() < 0.1) headers["content-encoding"] = r.pick(["gzip", "br", "identity", "x"]);
  if (r.next() < 0.1) headers["atproto-proxy"] = r.pick(NASTY_STRINGS).replace(/[^\x20-\x7e]/g, "");
  let body: string | Uint8Array | undefined;
  if (verb !== "GET" && verb !== "HEAD") {
    headers["content-type"] = r.next() < 0.75 ? "application/json" : r.pick(CONTENT_TYPES).replace(/\u0000/g, "");
    const b = r.next();
    body = b < 0.6 ? JSON.stringify(jsonFor(method.input, r)) : b < 0.9 ? r.pick(BODY_JUNK) : crypto.getRandomValues(new Uint8Array(r.pick([1, 64, 4096])));
  }
  const path = r.next() < 0.9 ? `/xrpc/${nsid}` : r.pick([`/xrpc/${nsid}/`, `//xrpc/${nsid}`, `/xrpc/${nsid}%00`, `/xrpc/${nsid.toUpperCase()}`, `/xrpc/${nsid}/..`]);
  return { method: verb, path: qs ? `${path}?${qs}` : path, headers, body };
}

async function send(ctx: TestContext, c: Case): Promise<{ status: number; body: string }> {
  const res = await ctx.handle(new Request(`http://localhost${c.path}`, { method: c.method, headers: c.headers, body: c.body }), "192.0.2.10");
  // Read the whole body: a stream that fails half way is a failure too.
  return { status: res.status, body: await res.text() };
}

const backends: Backend[] = [sqliteDisk, postgresS3()];
let plc: TestPlc;
afterAll(async () => {
  await plc?.stop();
  for (const b of backends) await b.dispose();
});

for (const backend of backends) {
  describe(`fuzz on ${backend.name}`, () => {
    test(`${PER_ROUTE} malformed requests to each of ${Object.keys(methods).length} methods (seed ${SEED}): no 5xx, errors are {error, message}, data intact`, async () => {
      plc ??= await startPlc();
      const ctx = await backend.open({
        log: { level: "error" },
        identity: { plcUrl: plc.url },
        rateLimit: { enabled: false },
        service: { inviteRequired: false, devMode: true },
      });
      try {
        const created = await ctx.request("/xrpc/com.atproto.server.createAccount", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ handle: "fuzz.test", email: "fuzz@example.com", password: "fuzz-password-1" }),
        });
        expect(created.status).toBe(200);
        const account = (await created.json()) as { did: string; accessJwt: string; refreshJwt: string };
        const auth = { authorization: `Bearer ${account.accessJwt}`, "content-type": "application/json" };
        const kept = await ctx.request("/xrpc/com.atproto.repo.createRecord", {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ repo: account.did, collection: "app.bsky.feed.post", rkey: "3kfuzzkeptaa2", record: { $type: "app.bsky.feed.post", text: "kept", createdAt: new Date().toISOString() } }),
        });
        expect(kept.status).toBe(200);
        const keptCid = ((await kept.json()) as { cid: string }).cid;

        const r = rng(SEED);
        const tokens = [account.accessJwt, account.refreshJwt, "e30.e30.e30"];
        const failures: string[] = [];
        const statuses = new Map<number, number>();
        let sent = 0;
        for (const nsid of Object.keys(methods)) {
          // A deleted session or a deactivated account would only stop the rest of the run from reaching past auth.
          if (nsid === "com.atproto.server.deleteSession" || nsid === "com.atproto.server.deactivateAccount") continue;
          for (let i = 0; i < PER_ROUTE; i++) {
            const c = makeCase(nsid, r, tokens);
            const { status, body } = await send(ctx, c);
            sent++;
            let shaped = true;
            if (status >= 400) {
              try {
                const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
                shaped = typeof parsed.error === "string" && (parsed.message === undefined || typeof parsed.message === "string");
              } catch {
                shaped = c.method === "HEAD" && body === "";
              }
            }
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            // XRPC's answer for a well-formed NSID nobody serves (e.g. the upper-cased spellings).
            const unimplemented = status === 501 && body.includes('"MethodNotImplemented"');
            if ((status >= 500 && !unimplemented) || !shaped) failures.push(`${status} ${c.method} ${JSON.stringify(c.path).slice(0, 200)} ${JSON.stringify(c.headers).slice(0, 200)} ${String(c.body ?? "").slice(0, 120)} → ${body.slice(0, 200)}`);
          }
        }
        // Paths that are no route at all, with odd verbs.
        for (const path of ["/", "/xrpc", "/xrpc/", "/xrpc/%", "/xrpc/a..b", "/.well-known/did.json", "/health/ready/", "/metrics?x=%zz", `/xrpc/${"a.".repeat(300)}b`]) {
          for (const verb of VERBS) {
            const { status, body } = await send(ctx, { method: verb, path, headers: {} });
            sent++;
            if (status >= 500) failures.push(`${status} ${verb} ${path} → ${body.slice(0, 200)}`);
          }
        }
        console.log(`fuzz on ${backend.name}: ${sent} requests, by status ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
        expect(failures).toEqual([]);
        expect(sent).toBeGreaterThan(1000);
        // The generator must get past the front door: some calls succeed and many are refused by the handlers' own checks.
        expect(statuses.get(200) ?? 0).toBeGreaterThan(50);

        // Still serving, and the repository is whole: the kept record is unchanged and the CAR verifies.
        expect((await ctx.request("/xrpc/com.atproto.server.describeServer")).status).toBe(200);
        const got = await ctx.request(`/xrpc/com.atproto.repo.getRecord?repo=${account.did}&collection=app.bsky.feed.post&rkey=3kfuzzkeptaa2`);
        expect(got.status).toBe(200);
        expect(((await got.json()) as { cid: string }).cid).toBe(keptCid);
        const car = await ctx.request(`/xrpc/com.atproto.sync.getRepo?did=${account.did}`, { headers: { authorization: `Bearer ${account.accessJwt}` } });
        expect(car.status).toBe(200);
        const signingKey = await ctx.accounts.signingKey(account.did);
        await verifyRepoCar(new Uint8Array(await car.arrayBuffer()), account.did, signingKey.did());
      } finally {
        await ctx.close();
      }
    }, 240_000);
  });
}
