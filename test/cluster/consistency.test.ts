/**
 * Three nodes behind nginx behave as one PDS: sessions and their revocation
 * hold on every node, concurrent writers on one repository (through
 * different nodes) make one linear commit chain that every node exports
 * byte for byte, and every node's firehose, and nginx's, carries the same
 * complete event sequence.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { verifyCommitSig, verifyRepoCar } from "@atproto/repo";
import { CarReader } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import type { CID } from "multiformats/cid";
import postgresjs from "postgres";
import { type Cluster, startCluster } from "@test/support/cluster";
import { FirehoseClient } from "@test/support/firehose";
import { type Account, PASSWORD, getRepoCar, plcSigningKey, post, served, signUp, xrpc } from "./helpers";

/** Writers racing on one repository. */
const CONTENDED = 40;
/** Writes to each of the other repositories meanwhile. */
const OTHERS = 10;

let cluster: Cluster;
let alice: Account;
let writer: Account;
let others: Account[];
let firehoses: { name: string; client: FirehoseClient }[];

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  const accounts = await Promise.all(["alice", "writer", "bob", "carol"].map((n) => signUp(cluster, n)));
  [alice, writer, others] = [accounts[0]!, accounts[1]!, accounts.slice(2)];
  // From cursor 0: the accounts' events are replayed, the writes below arrive live, from whichever node made them.
  firehoses = [
    ...cluster.nodes.map((n, i) => ({ name: `node ${i}`, client: new FirehoseClient(n.port, 0) })),
    { name: "nginx", client: new FirehoseClient(cluster.port, 0) },
  ];
  await Promise.all(firehoses.map((f) => f.client.opened));
}, 120_000);
afterAll(async () => {
  for (const f of firehoses ?? []) f.client.close();
  await cluster?.stop();
}, 60_000);

const bases = () => [...cluster.nodes.map((n) => n.url), cluster.url];

describe("sessions across nodes", () => {
  test("a session made on one node works on every node, and its revocation holds on every node", async () => {
    const agent = new AtpAgent({ service: cluster.url });
    await agent.login({ identifier: alice.handle, password: PASSWORD });
    expect((await agent.com.atproto.server.getSession()).data.did).toBe(alice.did);

    const made = await xrpc(cluster.nodes[0]!.url, "com.atproto.server.createSession", {
      body: { identifier: alice.handle, password: PASSWORD },
    });
    expect(made.status).toBe(200);
    const first = made.body as { accessJwt: string; refreshJwt: string };
    // Every node checks it (and caches the session in Redis on the way).
    for (const base of bases()) {
      const res = await xrpc(base, "com.atproto.server.getSession", { token: first.accessJwt });
      expect([res.status, res.body.did]).toEqual([200, alice.did]);
    }
    // Rotated on another node; the successor works everywhere too.
    const rotated = await xrpc(cluster.nodes[1]!.url, "com.atproto.server.refreshSession", { method: "POST", token: first.refreshJwt });
    expect(rotated.status).toBe(200);
    const second = rotated.body as { accessJwt: string; refreshJwt: string };
    for (const base of bases()) {
      expect((await xrpc(base, "com.atproto.server.getSession", { token: second.accessJwt })).status).toBe(200);
    }

    // Logged out on a third node.
    const deleted = await xrpc(cluster.nodes[2]!.url, "com.atproto.server.deleteSession", { method: "POST", token: second.refreshJwt });
    expect(deleted.status).toBe(200);
    for (const base of bases()) {
      for (const refreshJwt of [second.refreshJwt, first.refreshJwt]) {
        const refreshed = await xrpc(base, "com.atproto.server.refreshSession", { method: "POST", token: refreshJwt });
        expect([base, refreshed.status, refreshed.body.error]).toEqual([base, 400, "ExpiredToken"]);
      }
      for (const accessJwt of [second.accessJwt, first.accessJwt]) {
        const checked = await xrpc(base, "com.atproto.server.getSession", { token: accessJwt });
        expect([base, checked.status, checked.body.error]).toEqual([base, 400, "ExpiredToken"]);
      }
    }
    // The other session of the account is untouched.
    expect((await agent.com.atproto.server.getSession()).data.did).toBe(alice.did);
  });
});

describe("concurrent writes", () => {
  let acked: { uri: string; cid: string }[] = [];

  test(`${CONTENDED} writers on one repository and others beside them: all acknowledged, one linear chain`, async () => {
    const create = (account: Account, i: number) =>
      account.agent.com.atproto.repo
        .createRecord({ repo: account.did, collection: "app.bsky.feed.post", record: post(`${account.handle} ${i}`) })
        .then((r) => ({ uri: r.data.uri, cid: r.data.cid }));
    const [contended, ...besides] = await Promise.all([
      Promise.all(Array.from({ length: CONTENDED }, (_, i) => create(writer, i))),
      ...others.map((o) => Promise.all(Array.from({ length: OTHERS }, (_, i) => create(o, i)))),
    ]);
    acked = contended!;
    // The writers really raced through different nodes.
    for (const node of cluster.nodes) expect(await served(node.url, "com.atproto.repo.createRecord")).toBeGreaterThan(0);
    expect(new Set(acked.map((a) => a.uri)).size).toBe(CONTENDED);
    for (const list of besides) expect(list.length).toBe(OTHERS);

    // The chain, from the events the writers' transactions stored: genesis (#sync), then one #commit per write,
    // each building on the one before (since = previous rev, prevData = previous data), each signed by the account key.
    const key = await plcSigningKey(cluster, writer.did);
    const sql = postgresjs(cluster.databaseUrl, { max: 1 });
    const rows = await sql<{ event_type: string; event: Uint8Array }[]>`
      SELECT event_type, event FROM repo_seq WHERE did = ${writer.did} AND event_type IN ('sync', 'commit') ORDER BY seq`.finally(() =>
      sql.end(),
    );
    expect(rows.map((r) => r.event_type)).toEqual(["sync", ...Array(CONTENDED).fill("commit")]);
    let prev = await commitOf(rows[0]!.event, key);
    const paths = new Set<string>();
    for (const row of rows.slice(1)) {
      const body = dagCbor.decode<CommitEvent>(row.event);
      const commit = await commitOf(row.event, key);
      expect(body.since).toBe(prev.rev);
      expect(body.prevData?.toString()).toBe(prev.data.toString());
      expect(commit.rev > prev.rev).toBe(true);
      expect(body.ops.map((op) => op.action)).toEqual(["create"]);
      paths.add(body.ops[0]!.path);
      prev = commit;
    }
    expect(paths).toEqual(new Set(acked.map((a) => a.uri.split("/").slice(-2).join("/"))));

    // Every node names the same head: the last commit of that chain.
    for (const base of bases()) {
      const head = await xrpc(base, "com.atproto.sync.getLatestCommit", { query: { did: writer.did } });
      expect(head.body).toEqual({ cid: prev.cid.toString(), rev: prev.rev });
    }
  }, 60_000);

  test("getRepo from each node directly is byte-identical, verifies against the PLC key, and holds every acknowledged record", async () => {
    const key = await plcSigningKey(cluster, writer.did);
    const cars = await Promise.all(cluster.nodes.map((n) => getRepoCar(n.url, writer.did)));
    for (const car of cars.slice(1)) expect(Buffer.from(car).equals(Buffer.from(cars[0]!))).toBe(true);
    const verified = await verifyRepoCar(cars[0]!, writer.did, key);
    const inCar = new Map(verified.creates.map((c) => [`at://${writer.did}/${c.collection}/${c.rkey}`, c.cid.toString()]));
    expect(inCar).toEqual(new Map(acked.map((a) => [a.uri, a.cid])));
    for (const other of others) {
      const [a, b, c] = await Promise.all(cluster.nodes.map((n) => getRepoCar(n.url, other.did)));
      expect(Buffer.from(a!).equals(Buffer.from(b!)) && Buffer.from(a!).equals(Buffer.from(c!))).toBe(true);
      expect((await verifyRepoCar(a!, other.did, await plcSigningKey(cluster, other.did))).creates.length).toBe(OTHERS);
    }
  });
});

describe("firehose across nodes", () => {
  test("each node's subscribeRepos and nginx's carry the identical, complete sequence", async () => {
    const sql = postgresjs(cluster.databaseUrl, { max: 1 });
    const rows = await sql<{ seq: string; event_type: string; event: Uint8Array }[]>`
      SELECT seq, event_type, event FROM repo_seq ORDER BY seq`.finally(() => sql.end());
    const seqs = rows.map((r) => Number(r.seq));
    // Every account's #identity, #account and #sync, and every write's #commit.
    expect(seqs.length).toBe(4 * 3 + CONTENDED + OTHERS * others.length);
    const expected = rows.map((r) => ({
      t: `#${r.event_type}`,
      body: Buffer.from(dagCbor.encode({ ...dagCbor.decode<Record<string, unknown>>(r.event), seq: Number(r.seq) })).toString("hex"),
    }));
    for (const { name, client } of firehoses) {
      await client.waitForSeq(seqs.at(-1)!, 20_000);
      const got = client.frames
        .filter((f) => f.header.op === 1 && f.header.t !== "#info")
        .map((f) => ({ t: f.header.t, body: Buffer.from(dagCbor.encode(f.body)).toString("hex") }));
      expect([name, got.length]).toEqual([name, expected.length]);
      expect([name, client.seqs()]).toEqual([name, seqs]);
      expect(got).toEqual(expected);
    }
  }, 30_000);
});

interface CommitEvent {
  commit: CID;
  rev: string;
  since: string | null;
  prevData?: CID;
  blocks: Uint8Array;
  ops: { action: string; path: string }[];
}

/** The signed commit a #commit or #sync event carries, checked against `key`. */
async function commitOf(event: Uint8Array, key: string): Promise<{ cid: CID; rev: string; data: CID }> {
  const body = dagCbor.decode<{ blocks: Uint8Array; commit?: CID }>(event);
  const car = await CarReader.fromBytes(body.blocks);
  const cid = body.commit ?? (await car.getRoots())[0]!;
  const block = await car.get(cid);
  if (!block) throw new Error(`event CAR lacks its commit ${cid.toString()}`);
  const commit = dagCbor.decode<{ did: string; version: 3; rev: string; data: CID; prev: CID | null; sig: Uint8Array }>(block.bytes);
  expect(await verifyCommitSig(commit as never, key)).toBe(true);
  return { cid, rev: commit.rev, data: commit.data };
}
