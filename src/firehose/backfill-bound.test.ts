/**
 * Cursor replays share a bounded number of event-table reads: with
 * `maxConcurrentBackfills: 1`, three subscribers replaying 1,200 events at
 * once never have more than one read in flight, and each still gets every
 * event once, in order.
 */
import { afterAll, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createSeqReader, type SeqReader } from "@/sequencer/reader";
import { UPGRADED } from "@/xrpc/upgraded";
import { FirehoseClient } from "@test/support/firehose";
import { testContext } from "@test/support/context";
import { writeIdentity } from "@test/support/firehose-suite";
import { type SocketData, createFirehose } from "./firehose";
import { eventually } from "@test/support/eventually";

const EVENTS = 1200;
const ctx = await testContext({ log: { level: "warn" } });
afterAll(() => ctx.close());

test("at most maxConcurrentBackfills replays read the event table at once; every replay is complete", async () => {
  for (let i = 0; i < EVENTS; i++) await writeIdentity(ctx);
  const real = createSeqReader(ctx.db);
  let inFlight = 0;
  let most = 0;
  let reads = 0;
  const reader: SeqReader = {
    ...real,
    async range(after, upTo, limit) {
      // The tail's own reads of new events (no upper bound) are not replays.
      if (upTo === undefined) return real.range(after, upTo, limit);
      inFlight++;
      reads++;
      most = Math.max(most, inFlight);
      try {
        await Bun.sleep(5); // long enough for the other replays to ask in the meantime
        return await real.range(after, upTo, limit);
      } finally {
        inFlight--;
      }
    },
  };
  const firehose = createFirehose({
    db: ctx.db,
    reader,
    options: { ...ctx.config.firehose, maxConcurrentBackfills: 1 },
    log: ctx.log,
    registry: new Registry(),
    crawlers: { notifyOfUpdate() {} } as never,
  });
  await firehose.start();
  const server = Bun.serve<SocketData, never>({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request, srv) {
      const cursor = Number(new URL(request.url).searchParams.get("cursor"));
      const res = firehose.accept(request, { cursor, ip: "127.0.0.1", upgrade: (data) => srv.upgrade(request, { data }) });
      return res === UPGRADED ? undefined : res;
    },
    websocket: firehose.websocket,
  });
  try {
    const clients = [0, 1, 2].map(() => new FirehoseClient(server.port!, 0));
    await eventually(
      () => clients.every((c) => c.frames.length >= EVENTS),
      { timeoutMs: 20_000, what: "every replay delivered" },
    );
    for (const c of clients) expect(c.frames.map((f) => f.body.seq)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    expect(reads).toBeGreaterThanOrEqual(6); // three replays of at least two pages each
    expect(most).toBe(1);
    for (const c of clients) c.ws.close();
  } finally {
    await firehose.close();
    server.stop(true);
  }
});
