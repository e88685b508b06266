/**
 * A node dies mid-write: writers keep going through nginx while one of the
 * three nodes gets SIGKILL (no drain, its database connections and repo locks
 * cut), then comes back. nginx routes around it, nothing acknowledged is
 * lost, and the restarted node serves exactly what the others serve.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgresjs from "postgres";
import { type Cluster, startCluster } from "@test/support/cluster";
import { FirehoseClient } from "@test/support/firehose";
import { type Account, getRepoCar, post, rkeyOf, served, signUp, xrpc } from "./helpers";
import { eventually } from "@test/support/eventually";

/** Writers in flight at any moment: two per repository. */
const WRITERS_PER_REPO = 2;
/**
 * Each writer starts an attempt at most every PACE_MS and stops after
 * MAX_ATTEMPTS, whatever happens: paced, the writes last (up to 30 s) until
 * the restarted node has taken some, however fast each write is.
 */
const PACE_MS = 50;
const MAX_ATTEMPTS = 600;

let cluster: Cluster;
let accounts: Account[];
beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  accounts = await Promise.all(["dora", "emil", "fay"].map((n) => signUp(cluster, n)));
}, 120_000);
afterAll(() => cluster?.stop(), 60_000);

interface Attempt {
  did: string;
  at: number;
  status: number;
  uri?: string;
  cid?: string;
}

test("SIGKILL a node under write load: nginx routes around it, no acknowledged write is lost, the node rejoins", async () => {
  const attempts: Attempt[] = [];
  let stop = false;
  const writer = async (account: Account, n: number) => {
    const token = account.agent.session!.accessJwt;
    for (let i = 0; i < MAX_ATTEMPTS && !stop; i++) {
      const at = Date.now();
      try {
        const res = await fetch(`${cluster.url}/xrpc/com.atproto.repo.createRecord`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ repo: account.did, collection: "app.bsky.feed.post", record: post(`writer ${n} write ${i}`) }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await res.json().catch(() => ({}))) as { uri?: string; cid?: string };
        attempts.push({ did: account.did, at, status: res.status, uri: body.uri, cid: body.cid });
      } catch {
        attempts.push({ did: account.did, at, status: 0 });
      }
      await Bun.sleep(Math.max(0, at + PACE_MS - Date.now()));
    }
  };
  const acked = () => attempts.filter((a) => a.status === 200);
  const writers = Promise.all(accounts.flatMap((a, i) => Array.from({ length: WRITERS_PER_REPO }, (_, j) => writer(a, i * WRITERS_PER_REPO + j))));

  const victim = cluster.nodes[1]!;
  try {
    await eventually(() => acked().length >= 30, { timeoutMs: 15_000, what: "30 writes before the crash" });
    expect(await served(victim.url, "com.atproto.repo.createRecord")).toBeGreaterThan(0);
    const crashedAt = Date.now();
    await victim.crash();
    await eventually(
      () => acked().filter((a) => a.at > crashedAt).length >= 40,
      { timeoutMs: 15_000, what: "40 writes after the crash" },
    );
    await victim.start();
    // nginx tries the node again once its fail_timeout (5 s) has passed: writes reach it again.
    await eventually(
      async () => (await served(victim.url, "com.atproto.repo.createRecord")) > 0,
      { timeoutMs: 15_000, what: "writes on the restarted node" },
    );
  } finally {
    stop = true;
    await writers;
  }

  const failed = attempts.filter((a) => a.status !== 200);
  // Only the requests in flight on the victim when it died may fail: at most one per writer.
  expect(failed.length).toBeLessThanOrEqual(accounts.length * WRITERS_PER_REPO);
  for (const f of failed) expect([0, 502, 503, 504]).toContain(f.status);
  expect(acked().length).toBeGreaterThan(70);

  // Every acknowledged write is there, as acknowledged.
  const byDid = new Map(accounts.map((a) => [a.did, a]));
  const all = acked();
  for (let i = 0; i < all.length; i += 16) {
    await Promise.all(
      all.slice(i, i + 16).map(async (a) => {
        const got = await xrpc(cluster.url, "com.atproto.repo.getRecord", {
          query: { repo: a.did, collection: "app.bsky.feed.post", rkey: rkeyOf(a.uri!) },
          token: byDid.get(a.did)!.agent.session!.accessJwt,
        });
        expect([got.status, got.body.cid]).toEqual([200, a.cid]);
      }),
    );
  }

  // The restarted node serves the same repositories, byte for byte, and the same firehose.
  expect((await fetch(`${victim.url}/health/ready`)).status).toBe(200);
  for (const account of accounts) {
    const cars = await Promise.all(cluster.nodes.map((n) => getRepoCar(n.url, account.did)));
    for (const car of cars.slice(1)) expect(Buffer.from(car).equals(Buffer.from(cars[0]!))).toBe(true);
  }
  const sql = postgresjs(cluster.databaseUrl, { max: 1 });
  const seqs = (await sql<{ seq: string }[]>`SELECT seq FROM repo_seq ORDER BY seq`.finally(() => sql.end())).map((r) => Number(r.seq));
  expect(seqs.length).toBeGreaterThanOrEqual(3 * accounts.length + all.length);
  const [survivor, rejoined] = [new FirehoseClient(cluster.nodes[0]!.port, 0), new FirehoseClient(victim.port, 0)];
  try {
    await Promise.all([survivor.waitForSeq(seqs.at(-1)!, 15_000), rejoined.waitForSeq(seqs.at(-1)!, 15_000)]);
    expect(rejoined.seqs()).toEqual(seqs);
    expect(survivor.seqs()).toEqual(seqs);
  } finally {
    survivor.close();
    rejoined.close();
  }
}, 80_000);
