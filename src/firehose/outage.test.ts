/**
 * The firehose across a PostgreSQL outage (a PRIVATE server the test stops
 * and starts): subscribers stay connected, and once the database is back the
 * events written after it arrive, in order, with nothing missing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { postgres } from "@plugins/db-postgres";
import { FirehoseClient } from "@test/support/firehose";
import { type Node, startNode, storedSeqs, writeIdentity } from "@test/support/firehose-suite";
import { type Service, startPostgres } from "@test/support/services";
import { eventually } from "@test/support/eventually";

let pg: Service;
let node: Node;

beforeAll(async () => {
  pg = await startPostgres();
  node = await startNode(postgres({ url: pg.url, maxConnections: 4, minConnections: 2, connectTimeout: 2 }));
});
afterAll(async () => {
  await node?.stop();
  await pg?.stop();
});

test("a subscriber keeps its stream through a database restart and misses nothing", async () => {
  const client = new FirehoseClient(node.port);
  await client.opened;
  await eventually(() => node.ctx.firehose.size === 1);
  const before = await writeIdentity(node.ctx);
  await client.waitForSeq(before);

  await pg.kill();
  // Polls fail meanwhile; the subscription does not.
  await Bun.sleep(500);
  await pg.start();

  const written: number[] = [];
  await eventually(async () => {
    const seq = await writeIdentity(node.ctx).catch(() => undefined);
    if (seq !== undefined) written.push(seq);
    return written.length > 0;
  }, { timeoutMs: 15_000, what: "a write after the restart" });
  for (let i = 0; i < 5; i++) written.push(await writeIdentity(node.ctx));
  await client.waitForSeq(written.at(-1)!, 10_000);
  expect(node.ctx.firehose.size).toBe(1);
  expect(client.seqs()).toEqual(await storedSeqs(node.ctx));
  client.close();
});
