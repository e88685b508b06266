import { afterAll, expect, test } from "bun:test";
import { afterRecovery, cleanAfterRecoveryCheck, getWithRetry, setProbeTargets } from "./check";

// A deployment stand-in whose getBlob answers 503 twice, then 200, and a
// stand-in for s3rver that answers or not: the check must excuse the 503s
// exactly when the blob store itself was away.
let blobCalls = 0;
const node = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    if (new URL(req.url).pathname === "/xrpc/com.atproto.sync.getBlob") return new Response("", { status: blobCalls++ % 3 < 2 ? 503 : 200 });
    return new Response("", { status: 500 });
  },
});
const s3 = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
const nodeUrl = `http://127.0.0.1:${node.port}`;
const s3Url = `http://127.0.0.1:${s3.port}`;
const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
const deadUrl = `http://127.0.0.1:${dead.port}`;
dead.stop(true);
afterAll(() => {
  node.stop(true);
  s3.stop(true);
});

test("faults check: getBlob 503s while s3rver does not answer are excused", async () => {
  setProbeTargets({ nodes: [{ url: nodeUrl }], s3: { url: deadUrl } });
  const from = afterRecovery.length;
  const res = await getWithRetry(`${nodeUrl}/xrpc/com.atproto.sync.getBlob?did=x&cid=y`);
  expect(res.status).toBe(200);
  expect(afterRecovery.slice(from).map((m) => m.what)).toEqual(["com.atproto.sync.getBlob 503 (s3rver away)", "com.atproto.sync.getBlob 503 (s3rver away)"]);
  const check = cleanAfterRecoveryCheck(from);
  expect(check.ok).toBe(true);
  expect(check.detail).toContain("2 getBlob 503");
});

test("faults check: getBlob 503s while s3rver answers fail the check, unless inside a recorded s3rver outage", async () => {
  setProbeTargets({ nodes: [{ url: nodeUrl }], s3: { url: s3Url } });
  const from = afterRecovery.length;
  const started = Date.now();
  expect((await getWithRetry(`${nodeUrl}/xrpc/com.atproto.sync.getBlob?did=x&cid=y`)).status).toBe(200);
  const check = cleanAfterRecoveryCheck(from);
  expect(check.ok).toBe(false);
  expect(check.detail).toContain("com.atproto.sync.getBlob 503 ×2");
  expect(cleanAfterRecoveryCheck(from, [{ from: started, to: Date.now() }]).ok).toBe(true);
  expect(cleanAfterRecoveryCheck(from, [{ from: started - 60_000, to: started - 30_000 }]).ok).toBe(false);
});

test("faults check: other 5xx are never excused", () => {
  const retried = [{ at: Date.now(), what: "com.atproto.repo.getRecord 503" }];
  expect(cleanAfterRecoveryCheck(0, [{ from: 0, to: Infinity }], retried).ok).toBe(false);
});
