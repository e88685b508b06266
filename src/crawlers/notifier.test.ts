import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memory } from "@/cache/memory";
import { createLogger } from "@/log";
import { redis } from "@plugins/cache-redis";
import { sqlite } from "@plugins/db-sqlite";
import { pluginContext } from "@test/conformance/database";
import { FirehoseClient } from "@test/support/firehose";
import { startNode, writeIdentity } from "@test/support/firehose-suite";
import { createCrawlerNotifier } from "./notifier";
import { eventually } from "@test/support/eventually";

/** A stand-in relay on loopback: records each requestCrawl; `hang` makes it never answer. */
function fakeRelay(hang = false) {
  const calls: { path: string; type: string | null; body: unknown }[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      calls.push({ path: new URL(request.url).pathname, type: request.headers.get("content-type"), body: await request.json() });
      if (hang) await Bun.sleep(5000);
      return new Response(null, { status: 200 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, calls, stop: () => server.stop(true) };
}

const quiet = createLogger("silent");
// One plugin context for the caches here (they keep nothing on disk); its temp dir goes at the end.
const pluginCtx = pluginContext();
afterAll(() => pluginCtx.cleanup());

describe("requestCrawl notifier", () => {
  const relays = [fakeRelay(), fakeRelay()];
  afterAll(() => relays.forEach((r) => r.stop()));

  test("asks each relay once per interval, with our hostname, whatever the number of updates", async () => {
    const cache = memory();
    await cache.init(pluginCtx);
    const notifier = createCrawlerNotifier({
      relays: relays.map((r) => r.url),
      hostname: "pds.example.com",
      cache,
      log: quiet,
      registry: new Registry(),
      intervalMs: 300,
    });
    for (let i = 0; i < 5; i++) notifier.notifyOfUpdate();
    await notifier.settled();
    for (const relay of relays) {
      expect(relay.calls).toEqual([
        { path: "/xrpc/com.atproto.sync.requestCrawl", type: "application/json", body: { hostname: "pds.example.com" } },
      ]);
    }
    await Bun.sleep(350);
    notifier.notifyOfUpdate();
    notifier.notifyOfUpdate();
    await notifier.settled();
    expect(relays.map((r) => r.calls.length)).toEqual([2, 2]);
    await cache.close();
  });

  test("a relay that never answers blocks nothing and is given up on after the timeout", async () => {
    const hanging = fakeRelay(true);
    const cache = memory();
    await cache.init(pluginCtx);
    const registry = new Registry();
    const notifier = createCrawlerNotifier({ relays: [hanging.url], hostname: "h.test", cache, log: quiet, registry, timeoutMs: 200 });
    const started = performance.now();
    notifier.notifyOfUpdate();
    expect(performance.now() - started).toBeLessThan(20);
    await notifier.settled();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await registry.metrics()).toContain('aurora_crawler_requests_total{result="error"} 1');
    hanging.stop();
    await cache.close();
  });

  test("nodes sharing Redis ask a relay once between them", async () => {
    const url = process.env.AURORA_TEST_REDIS_URL;
    if (!url) throw new Error("AURORA_TEST_REDIS_URL unset: run via scripts/with-services.ts");
    const relay = fakeRelay();
    const keyPrefix = `crawl-${crypto.randomUUID()}:`;
    const caches = [redis({ url, keyPrefix }), redis({ url, keyPrefix })];
    for (const cache of caches) await cache.init(pluginCtx);
    const notifiers = caches.map((cache) =>
      createCrawlerNotifier({ relays: [relay.url], hostname: "h.test", cache, log: quiet, registry: new Registry() }),
    );
    for (const n of notifiers) n.notifyOfUpdate();
    await Promise.all(notifiers.map((n) => n.settled()));
    expect(relay.calls.length).toBe(1);
    for (const cache of caches) await cache.close();
    relay.stop();
  });
});

describe("requestCrawl from a running node", () => {
  const relay = fakeRelay(true);
  const dir = mkdtempSync(join(tmpdir(), "aurora-crawl-"));
  let node: Awaited<ReturnType<typeof startNode>>;
  beforeAll(async () => {
    node = await startNode(sqlite({ path: join(dir, "aurora.sqlite") }), {}, { crawlers: [relay.url] });
  });
  afterAll(async () => {
    await node?.stop();
    relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("new events trigger one request; writes and delivery do not wait for the (hanging) relay", async () => {
    const client = new FirehoseClient(node.port);
    await client.opened;
    await eventually(() => node.ctx.firehose.size === 1);
    const started = performance.now();
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) seqs.push(await writeIdentity(node.ctx));
    await client.waitForSeq(seqs.at(-1)!);
    expect(performance.now() - started).toBeLessThan(2000);
    await eventually(() => relay.calls.length === 1);
    expect(relay.calls[0]!.body).toEqual({ hostname: "localhost" });
    await Bun.sleep(100);
    expect(relay.calls.length).toBe(1);
    client.close();
  });
});
