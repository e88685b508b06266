import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { postgres } from "@plugins/db-postgres";
import { encodeBody, identityBody } from "@/sequencer/encode";
import { FirehoseClient, freshPostgres } from "@test/support/firehose";
import { type Node, firehoseSuite, newDid, startNode, storedSeqs, writeIdentity } from "@test/support/firehose-suite";
import { eventually } from "@test/support/eventually";

let database: Awaited<ReturnType<typeof freshPostgres>>;
const make = () => postgres({ url: database.url, maxConnections: 20, minConnections: 2, connectTimeout: 5 });

firehoseSuite("PostgreSQL", {
  make,
  prepare: async () => {
    database = await freshPostgres();
  },
  dispose: async () => {},
});

/** Two transactions that commit in the opposite order of their start, on a real PostgreSQL. */
describe("firehose on PostgreSQL: commit order and several nodes", () => {
  let a: Node;
  let b: Node;
  beforeAll(async () => {
    a = await startNode(make());
    b = await startNode(make());
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database.drop();
  });

  const live = async (node: Node, expected: number) => {
    const client = new FirehoseClient(node.port);
    await client.opened;
    await eventually(() => node.ctx.firehose.size === expected);
    return client;
  };

  test("a writer holding the seq lock makes later writers wait, so seqs are committed in order", async () => {
    const client = await live(a, 1);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let firstSeq = 0;
    const first = a.ctx.db.transaction(async (tx) => {
      firstSeq = await a.ctx.sequencer.sequenceIdentity(tx, newDid());
      await gate;
    });
    await eventually(() => firstSeq > 0);
    let secondSequenced = false;
    // Another node, another pool: the lock works across processes.
    const second = b.ctx.db.transaction(async (tx) => {
      const seq = await b.ctx.sequencer.sequenceIdentity(tx, newDid());
      secondSequenced = true;
      return seq;
    });
    await Bun.sleep(300);
    expect(secondSequenced).toBe(false);
    a.ctx.sequencer.announce();
    await Bun.sleep(300);
    expect(client.seqs()).toEqual([]);
    release();
    await first;
    const secondSeq = await second;
    b.ctx.sequencer.announce();
    await client.waitForSeq(secondSeq);
    expect(secondSeq).toBeGreaterThan(firstSeq);
    expect(client.seqs()).toEqual([firstSeq, secondSeq]);
    client.close();
    await eventually(() => a.ctx.firehose.size === 0);
  });

  test("the transaction that started first and commits last is delivered last, to live and replaying subscribers", async () => {
    const start = (await storedSeqs(a.ctx)).at(-1)!;
    const client = await live(b, 1);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let began = false;
    const first = a.ctx.db.transaction(async (tx) => {
      await tx.insertInto("repo_root").values({ did: newDid(), cid: "bafy", rev: "3kabcdefghij2", indexed_at: new Date().toISOString() }).execute();
      began = true;
      await gate;
      return a.ctx.sequencer.sequenceIdentity(tx, newDid());
    });
    await eventually(() => began);
    const secondSeq = await writeIdentity(b.ctx);
    await client.waitForSeq(secondSeq);
    release();
    const firstSeq = await first;
    a.ctx.sequencer.announce();
    await client.waitForSeq(firstSeq);
    expect(firstSeq).toBeGreaterThan(secondSeq);
    expect(client.seqs()).toEqual([secondSeq, firstSeq]);
    const replay = new FirehoseClient(a.port, start);
    await replay.waitForSeq(firstSeq);
    expect(replay.seqs()).toEqual([secondSeq, firstSeq]);
    client.close();
    replay.close();
    await eventually(() => a.ctx.firehose.size + b.ctx.firehose.size === 0);
  });

  test("control: without the seq lock, a reader that follows seq > last seen skips an event for ever", async () => {
    // This is the trap the lock exists for; it shows the two tests above would catch its absence.
    const client = await live(a, 1);
    const raw = (tx: Parameters<Parameters<typeof a.ctx.db.transaction>[0]>[0]) =>
      tx
        .insertInto("repo_seq")
        .values({ did: "did:plc:control", event_type: "identity", event: encodeBody({ ...identityBody("did:plc:control", undefined), time: new Date().toISOString() }), sequenced_at: new Date().toISOString() })
        .returning("seq")
        .executeTakeFirstOrThrow();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let earlySeq = 0;
    const early = a.ctx.db.transaction(async (tx) => {
      earlySeq = (await raw(tx)).seq;
      await gate;
    });
    await eventually(() => earlySeq > 0);
    const lateSeq = (await b.ctx.db.transaction(raw)).seq;
    a.ctx.sequencer.announce();
    await client.waitForSeq(lateSeq);
    release();
    await early;
    a.ctx.sequencer.announce();
    await Bun.sleep(500);
    expect(earlySeq).toBeLessThan(lateSeq);
    expect(client.seqs()).toEqual([lateSeq]);
    client.close();
    await eventually(() => a.ctx.firehose.size === 0);
  });

  test("a node's own events reach its subscribers without being read back; a rolled-back one is never sent; other nodes read them", async () => {
    // Polling only once a minute: every read counted here follows a notification.
    const c = await startNode(make(), { pollIntervalMs: 60_000 });
    const clients: FirehoseClient[] = [];
    try {
      const seqReads = async (node: Node) => {
        const metric = await node.ctx.metrics.registry.getSingleMetric("aurora_db_queries_total")?.get();
        return (metric?.values ?? []).filter((v) => v.labels.operation === "SELECT" && v.labels.table === "repo_seq").reduce((n, v) => n + v.value, 0);
      };
      await eventually(async () => c.ctx.firehose.tail.head === (await storedSeqs(c.ctx)).at(-1) && b.ctx.firehose.tail.head === c.ctx.firehose.tail.head);
      const onC = await live(c, 1);
      const onB = await live(b, 1);
      clients.push(onC, onB);
      const before = { c: await seqReads(c), b: await seqReads(b) };
      const written: number[] = [];
      for (let i = 0; i < 20; i++) written.push(await writeIdentity(c.ctx));
      let rolledBack = 0;
      await c.ctx.db
        .transaction(async (tx) => {
          rolledBack = await c.ctx.sequencer.sequenceIdentity(tx, newDid());
          throw new Error("rolled back on purpose");
        })
        .catch(() => {});
      // Each one delivered before the next is written: the read the gap causes could otherwise still be in
      // flight when the next commit's notification comes, and that one would be read too (correct, but
      // a count this test cannot bound).
      for (let i = 0; i < 5; i++) {
        written.push(await writeIdentity(c.ctx));
        await onC.waitForSeq(written.at(-1)!);
      }
      await onB.waitForSeq(written.at(-1)!);
      expect(rolledBack).toBeGreaterThan(written[19]!);
      expect(onC.seqs()).toEqual(written);
      expect(onB.seqs()).toEqual(written);
      // The seq the rollback used is a gap after which the next event is read; the others are not.
      expect((await seqReads(c)) - before.c).toBeLessThanOrEqual(2);
      expect((await seqReads(b)) - before.b).toBeGreaterThanOrEqual(10);
    } finally {
      for (const client of clients) client.close();
      await eventually(() => c.ctx.firehose.size + b.ctx.firehose.size === 0);
      await c.stop();
    }
  });

  test("subscribers on two nodes receive the identical sequence under concurrent writes from both", async () => {
    for (let round = 0; round < 10; round++) {
      const start = (await storedSeqs(a.ctx)).at(-1)!;
      await eventually(() => a.ctx.firehose.tail.head >= start && b.ctx.firehose.tail.head >= start);
      const onA = await live(a, 1);
      const onB = await live(b, 1);
      let replaying: FirehoseClient | undefined;
      const writers = [a, b].flatMap((node) =>
        Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 15; i++) {
            await node.ctx.db.transaction(async (tx) => {
              await Bun.sleep(Math.random() * 3);
              await node.ctx.sequencer.sequenceIdentity(tx, newDid());
              if ((i + w) % 4 === 0) await node.ctx.sequencer.sequenceAccount(tx, newDid(), true);
            });
            node.ctx.sequencer.announce();
            // Midway, a consumer reconnects to node b with the round's starting cursor.
            if (node === a && w === 0 && i === 7) replaying = new FirehoseClient(b.port, start);
          }
        }),
      );
      await Promise.all(writers);
      const expected = (await storedSeqs(a.ctx)).filter((s) => s > start);
      expect(expected.length).toBe(150);
      for (const client of [onA, onB, replaying!]) await client.waitForSeq(expected.at(-1)!, 10_000);
      expect(onA.seqs()).toEqual(expected);
      expect(onB.seqs()).toEqual(expected);
      expect(replaying!.seqs()).toEqual(expected);
      for (const client of [onA, onB, replaying!]) client.close();
      await eventually(() => a.ctx.firehose.size + b.ctx.firehose.size === 0);
    }
  });
});
