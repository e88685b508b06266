/**
 * The firehose behaviour every database backend must give: events written
 * through the sequencer inside real transactions, served over real
 * WebSockets, decoded with @ipld/dag-cbor. Run by
 * src/firehose/firehose.sqlite.test.ts and src/firehose/firehose.postgres.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CID } from "multiformats/cid";
import type { UserConfig } from "@/config/schema";
import type { DatabasePlugin } from "@/contracts/db";
import { listen } from "@/http/server";
import { type TestContext, testContext } from "./context";
import { FirehoseClient, RawWebSocket, bigCommit, carFile, cborBlock } from "./firehose";
import { eventually } from "@test/support/eventually";

export interface FirehoseBackend {
  /** A new plugin on the suite's database (called once per node or restart). */
  make(): DatabasePlugin;
  prepare(): Promise<void>;
  dispose(): Promise<void>;
}

export interface Node {
  ctx: TestContext;
  port: number;
  stop(): Promise<void>;
}

export async function startNode(db: DatabasePlugin, firehose: UserConfig["firehose"] = {}, extra: UserConfig = {}): Promise<Node> {
  const ctx = await testContext({ log: { level: "warn" }, firehose: { pollIntervalMs: 200, ...firehose }, ...extra }, { db });
  const server = listen(ctx, 0);
  return {
    ctx,
    port: server.port,
    async stop() {
      await server.shutdown();
      await ctx.close();
    },
  };
}

let didCounter = 0;
/** A syntactically valid did:plc, unique per call. */
export function newDid(): string {
  const n = (didCounter++).toString(32).padStart(6, "a").replace(/[018]/g, "x");
  return `did:plc:${"a".repeat(18)}${n}`;
}

/** Sequence one #identity event in its own transaction and announce it. */
export async function writeIdentity(ctx: TestContext, did = newDid(), handle?: string): Promise<number> {
  const seq = await ctx.db.transaction((tx) => ctx.sequencer.sequenceIdentity(tx, did, handle));
  ctx.sequencer.announce();
  return seq;
}

/** Every committed, valid seq in the table, in order. */
export async function storedSeqs(ctx: TestContext): Promise<number[]> {
  const rows = await ctx.db.db().selectFrom("repo_seq").select("seq").where("invalidated", "=", 0).orderBy("seq").execute();
  return rows.map((r) => r.seq);
}

export function firehoseSuite(name: string, backend: FirehoseBackend): void {
  describe(`firehose on ${name}`, () => {
    let node: Node;
    beforeAll(async () => {
      await backend.prepare();
      node = await startNode(backend.make());
    });
    afterAll(async () => {
      await node?.stop();
      await backend.dispose();
    });

    test("each event type reaches a live subscriber as a frame with its seq; a rolled-back write emits nothing", async () => {
      const client = new FirehoseClient(node.port);
      await client.opened;
      await eventually(() => node.ctx.firehose.size === 1);
      const did = newDid();
      const [commitCid, commitBytes] = await cborBlock({ did, version: 3, rev: "3kabcdefghij2" });
      const car = carFile(commitCid, [[commitCid, commitBytes]]);
      const seqs = await node.ctx.db.transaction(async (tx) => [
        await node.ctx.sequencer.sequenceIdentity(tx, did, "alice.test"),
        await node.ctx.sequencer.sequenceAccount(tx, did, true),
        await node.ctx.sequencer.sequenceSync(tx, did, commitCid, "3kabcdefghij2", car),
        await node.ctx.sequencer.sequenceAccount(tx, did, false, "deactivated"),
      ]);
      await node.ctx.db
        .transaction(async (tx) => {
          await node.ctx.sequencer.sequenceIdentity(tx, did, "never.test");
          throw new Error("roll back");
        })
        .catch(() => {});
      node.ctx.sequencer.announce();
      const after = await writeIdentity(node.ctx, did);
      await client.waitForSeq(after);
      expect(client.seqs()).toEqual([...seqs, after]);
      const [identity, active, sync, inactive] = client.frames;
      expect(identity!.header).toEqual({ op: 1, t: "#identity" });
      expect(identity!.body).toMatchObject({ seq: seqs[0], did, handle: "alice.test" });
      expect(Date.parse(identity!.body.time as string)).toBeGreaterThan(Date.now() - 60_000);
      expect(active!.body).toEqual({ seq: seqs[1], did, active: true, time: expect.any(String) });
      expect(sync!.header.t).toBe("#sync");
      expect(sync!.body).toMatchObject({ did, rev: "3kabcdefghij2", blocks: car });
      expect(inactive!.body).toMatchObject({ active: false, status: "deactivated" });
      client.close();
      await client.closed;
    });

    test("a cursor replays exactly what followed it, then switches to live with no gap or duplicate", async () => {
      for (let i = 0; i < 20; i++) await writeIdentity(node.ctx);
      const stored = await storedSeqs(node.ctx);
      const cursor = stored[stored.length - 15]!;
      // Writers keep going while the subscriber replays and switches over.
      let writing = true;
      const writer = (async () => {
        for (let i = 0; i < 60 && writing; i++) await writeIdentity(node.ctx);
      })();
      const client = new FirehoseClient(node.port, cursor);
      await Bun.sleep(50);
      writing = false;
      await writer;
      const last = await writeIdentity(node.ctx);
      await client.waitForSeq(last);
      const expected = (await storedSeqs(node.ctx)).filter((s) => s > cursor);
      expect(client.seqs()).toEqual(expected);
      client.close();
    });

    test("replay pages through the database when memory does not hold the range, across a restart", async () => {
      // One transaction, more events than a page (500), so the replay after a restart reads several pages.
      const before = await storedSeqs(node.ctx);
      await node.ctx.db.transaction(async (tx) => {
        for (let i = 0; i < 620; i++) await node.ctx.sequencer.sequenceIdentity(tx, newDid());
      });
      node.ctx.sequencer.announce();
      const all = await storedSeqs(node.ctx);
      await node.stop();
      node = await startNode(backend.make());
      // Seqs continue after a restart: never reused, always above the old ones.
      const next = await writeIdentity(node.ctx);
      expect(next).toBeGreaterThan(all.at(-1)!);
      const cursor = before.at(-1)!;
      const client = new FirehoseClient(node.port, cursor);
      await client.waitForSeq(next, 15_000);
      expect(client.seqs()).toEqual([...all.filter((s) => s > cursor), next]);
      client.close();
    });

    test("without announce() the event still arrives, by polling", async () => {
      const client = new FirehoseClient(node.port);
      await client.opened;
      await eventually(() => node.ctx.firehose.size === 1);
      const seq = await node.ctx.db.transaction((tx) => node.ctx.sequencer.sequenceIdentity(tx, newDid()));
      // The suite's nodes poll every 200 ms.
      await client.waitForSeq(seq, 2000);
      client.close();
      await eventually(() => node.ctx.firehose.size === 0);
    });

    test("a cursor ahead of the newest seq gets FutureCursor, then the connection closes", async () => {
      const head = (await storedSeqs(node.ctx)).at(-1)!;
      const client = new FirehoseClient(node.port, head + 1000);
      const closed = await client.closed;
      expect(client.frames).toEqual([{ header: { op: -1 }, body: { error: "FutureCursor", message: "Cursor in the future." } }]);
      expect(closed.code).toBe(1008);
    });

    test("a cursor older than the backfill window gets OutdatedCursor and starts at the window's edge", async () => {
      const seqs = await storedSeqs(node.ctx);
      const old = seqs.slice(0, 5);
      const ancient = new Date(Date.now() - 100 * 3_600_000).toISOString();
      await node.ctx.db.db().updateTable("repo_seq").set({ sequenced_at: ancient }).where("seq", "<=", old.at(-1)!).execute();
      const client = new FirehoseClient(node.port, 0);
      const last = seqs.at(-1)!;
      await client.waitForSeq(last, 10_000);
      expect(client.frames[0]).toEqual({
        header: { op: 1, t: "#info" },
        body: { name: "OutdatedCursor", message: "Requested cursor exceeded limit. Possibly missing events" },
      });
      expect(client.seqs()).toEqual(seqs.slice(5));
      client.close();
    });

    test("bad cursors and plain GETs are refused over HTTP", async () => {
      const url = `http://127.0.0.1:${node.port}/xrpc/com.atproto.sync.subscribeRepos`;
      const upgrade = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };
      const bad = await fetch(`${url}?cursor=-3`, { headers: upgrade });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: "InvalidRequest" });
      const plain = await fetch(url);
      expect(plain.status).toBe(426);
      expect(await plain.json()).toMatchObject({ error: "InvalidRequest" });
    });

    test("a consumer that stops reading gets ConsumerTooSlow; another subscriber is unaffected", async () => {
      const slowNode = await startNode(backend.make(), { maxBufferedEvents: 5 });
      try {
        const slow = new RawWebSocket(slowNode.port, "/xrpc/com.atproto.sync.subscribeRepos");
        const healthy = new FirehoseClient(slowNode.port);
        await healthy.opened;
        await eventually(() => slowNode.ctx.firehose.size === 2);
        slow.pause();
        // 256 KB events: the socket buffers (ours, then the kernel's) fill, then the queue passes its bound.
        const did = newDid();
        const written: number[] = [];
        for (let i = 0; i < 200 && slowNode.ctx.firehose.size === 2; i++) {
          const commit = await bigCommit(did, 256 * 1024);
          written.push(await slowNode.ctx.db.transaction((tx) => slowNode.ctx.sequencer.sequenceCommit(tx, commit)));
          slowNode.ctx.sequencer.announce();
          await Bun.sleep(5);
        }
        await eventually(
          () => slowNode.ctx.firehose.size === 1,
          { timeoutMs: 10_000, what: "the slow consumer to be dropped" },
        );
        slow.resume();
        await slow.ended;
        const messages = slow.messages();
        expect(messages.at(-1)).toEqual({ header: { op: -1 }, body: { error: "ConsumerTooSlow", message: "Stream consumer too slow" } });
        // What the slow consumer did get is an unbroken prefix of the stream.
        const got = messages.slice(0, -1).map((m) => m.body.seq);
        expect(got).toEqual(written.slice(0, got.length));
        await healthy.waitForSeq(written.at(-1)!, 10_000);
        expect(healthy.seqs()).toEqual(written);
        healthy.close();
      } finally {
        await slowNode.stop();
      }
    });

    test("a slow reader replaying a long backlog is paced by its socket, not dropped, and gets all of it", async () => {
      const cursor = (await storedSeqs(node.ctx)).at(-1) ?? 0;
      const did = newDid();
      for (let i = 0; i < 40; i++) {
        const commit = await bigCommit(did, 256 * 1024);
        await node.ctx.db.transaction((tx) => node.ctx.sequencer.sequenceCommit(tx, commit));
      }
      node.ctx.sequencer.announce();
      const expected = (await storedSeqs(node.ctx)).filter((s) => s > cursor);
      await eventually(() => node.ctx.firehose.tail.head === expected.at(-1));
      const reader = new RawWebSocket(node.port, `/xrpc/com.atproto.sync.subscribeRepos?cursor=${cursor}`);
      reader.pause();
      await eventually(() => node.ctx.firehose.size === 1);
      await Bun.sleep(500);
      // Still connected, with part of the backlog not sent yet: a replay waits for the socket rather than queueing.
      expect(node.ctx.firehose.size).toBe(1);
      const lag = /aurora_firehose_subscriber_lag_max_events (\d+)/.exec(await node.ctx.metrics.registry.metrics());
      expect(Number(lag?.[1])).toBeGreaterThan(0);
      reader.resume();
      await eventually(
        () => reader.messages().length === expected.length,
        { timeoutMs: 10_000, what: "the whole backlog" },
      );
      expect(reader.messages().map((m) => m.body.seq)).toEqual(expected);
      reader.destroy();
      await eventually(() => node.ctx.firehose.size === 0);
    });

    test("keepalive: pings every interval; a client that never answers is cut, one that does stays", async () => {
      const pingNode = await startNode(backend.make(), { keepaliveMs: 100 });
      try {
        const mute = new RawWebSocket(pingNode.port, "/xrpc/com.atproto.sync.subscribeRepos");
        const polite = new FirehoseClient(pingNode.port);
        await polite.opened;
        await eventually(() => mute.frames.some((f) => f.opcode === 9), { timeoutMs: 2000, what: "a ping" });
        await mute.ended;
        await Bun.sleep(300);
        expect(pingNode.ctx.firehose.size).toBe(1);
        const seq = await writeIdentity(pingNode.ctx);
        await polite.waitForSeq(seq);
        polite.close();
      } finally {
        await pingNode.stop();
      }
    });

    test("shutting a node down closes its subscriptions with 1001 (going away)", async () => {
      const leaving = await startNode(backend.make());
      const client = new FirehoseClient(leaving.port);
      await client.opened;
      await eventually(() => leaving.ctx.firehose.size === 1);
      const started = performance.now();
      await leaving.stop();
      expect((await client.closed).code).toBe(1001);
      expect(performance.now() - started).toBeLessThan(5000);
    });

    test("metrics: subscribers, events emitted and per-subscriber lag", async () => {
      const client = new FirehoseClient(node.port);
      await client.opened;
      await eventually(() => node.ctx.firehose.size === 1);
      const seq = await writeIdentity(node.ctx);
      await client.waitForSeq(seq);
      await Bun.sleep(1100);
      const text = await node.ctx.metrics.registry.metrics();
      expect(text).toContain("aurora_firehose_subscribers 1");
      expect(text).toMatch(/aurora_firehose_events_total\{type="identity"\} [1-9]/);
      expect(text).toMatch(/aurora_firehose_subscriber_lag_events_count [1-9]/);
      expect(text).toContain("aurora_firehose_subscriber_lag_max_events 0");
      client.close();
      await eventually(() => node.ctx.firehose.size === 0);
    });

    test("CIDs from any multiformats version are accepted and come out as CID links", async () => {
      const client = new FirehoseClient(node.port);
      await client.opened;
      await eventually(() => node.ctx.firehose.size === 1);
      const commit = await bigCommit(newDid(), 10);
      const seq = await node.ctx.db.transaction((tx) =>
        node.ctx.sequencer.sequenceCommit(tx, { ...commit, commit: commit.commit.toString(), ops: [{ ...commit.ops[0]!, cid: { bytes: commit.ops[0]!.cid.bytes } }] }),
      );
      node.ctx.sequencer.announce();
      await client.waitForSeq(seq);
      const body = client.frames.at(-1)!.body;
      expect(CID.asCID(body.commit)?.equals(commit.commit)).toBe(true);
      expect(body).toMatchObject({ rebase: false, tooBig: false, blobs: [], since: null, rev: "3kabcdefghij2" });
      expect(body).not.toHaveProperty("prevData");
      client.close();
    });
  });
}
