/**
 * The deployment of docs/SCALING.md: three compiled `aurora` processes on one
 * PostgreSQL, Redis and S3 bucket, behind nginx running the site file `aurora
 * nginx` wrote. Here: the nodes come up as one server, keep their data in the
 * shared services (none on their own disk), and share rate-limit counters.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import Redis from "ioredis";
import { existsSync, readdirSync } from "node:fs";
import postgresjs from "postgres";
import type { Algorithm } from "@/rate-limit/types";
import { type Cluster, startCluster } from "@test/support/cluster";
import { fakePng } from "@test/support/blobs";
import { type Account, post, signUp, xrpc } from "./helpers";

const HOUR = 3_600_000;
/** The limit of each probe rule; windows are long so no window edge falls inside the test. */
const L = 12;
/** One rule per algorithm, each on a method of its own; `query` asks about alice, so allowed calls answer 200. */
const PROBES: { algorithm: Algorithm; nsid: string; query: () => Record<string, string> }[] = [
  { algorithm: "fixed-window", nsid: "com.atproto.identity.resolveHandle", query: () => ({ handle: alice.handle }) },
  { algorithm: "token-bucket", nsid: "com.atproto.repo.describeRepo", query: () => ({ repo: alice.did }) },
  { algorithm: "sliding-log", nsid: "com.atproto.sync.getRepoStatus", query: () => ({ did: alice.did }) },
];

let cluster: Cluster;
let alice: Account;
beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    env: { RATE_LIMIT_DISTRIBUTED: "true" },
    rateLimit: {
      rules: Object.fromEntries(
        PROBES.map(({ algorithm }) => [`probe-${algorithm}`, { key: "ip" as const, limits: [{ limit: L, windowMs: 7 * 24 * HOUR, algorithm }] }]),
      ),
      routes: Object.fromEntries(PROBES.map(({ algorithm, nsid }) => [nsid, [{ rule: `probe-${algorithm}` }]])),
    },
  });
  alice = await signUp(cluster, "alice");
}, 120_000);
afterAll(() => cluster?.stop(), 60_000);

describe("three nodes behind nginx", () => {
  test("every node is ready, and the nodes racing to migrate applied each migration once", async () => {
    for (const node of cluster.nodes) {
      const res = await fetch(`${node.url}/health/ready`);
      expect(await res.json()).toEqual({
        status: "ok",
        checks: { "db-postgres": "ok", "storage-s3": "ok", "cache-redis": "ok" },
      });
    }
    const sql = postgresjs(cluster.databaseUrl, { max: 1 });
    try {
      const rows = await sql<{ name: string; n: number }[]>`SELECT name, count(*)::int AS n FROM aurora_migration GROUP BY name`;
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(row.n).toBe(1);
    } finally {
      await sql.end();
    }
  });

  test("the balancer serves the public API with the public URL the nodes advertise", async () => {
    const res = await fetch(`${cluster.url}/xrpc/com.atproto.server.describeServer`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ did: "did:web:localhost", inviteCodeRequired: false });
    // The DID document the PLC directory holds names the balancer as the PDS, not a node.
    const doc = (await (await fetch(`${cluster.plcUrl}/${alice.did}`)).json()) as { service: { serviceEndpoint: string }[] };
    expect(doc.service.map((s) => s.serviceEndpoint)).toEqual([cluster.url]);
  });

  test("accounts, records and blobs live in PostgreSQL, S3 and Redis, none on a node's disk", async () => {
    const png = fakePng(30_000);
    const { data: upload } = await alice.agent.uploadBlob(png, { encoding: "image/png" });
    const cid = upload.blob.ref.toString();
    const created = await alice.agent.com.atproto.repo.createRecord({
      repo: alice.did,
      collection: "app.bsky.feed.post",
      record: { ...post("with a picture"), embed: { $type: "app.bsky.embed.images", images: [{ image: upload.blob, alt: "noise" }] } },
    });

    const sql = postgresjs(cluster.databaseUrl, { max: 1 });
    try {
      const [account] = await sql`SELECT handle, signing_key FROM account WHERE did = ${alice.did}`;
      expect(account?.handle).toBe(alice.handle);
      const [record] = await sql`SELECT cid FROM record WHERE uri = ${created.data.uri}`;
      expect(record?.cid).toBe(created.data.cid);
      const [root] = await sql`SELECT cid FROM repo_root WHERE did = ${alice.did}`;
      expect(root?.cid).toBe(created.data.commit!.cid);
      const [blob] = await sql`SELECT size::int AS size, temp_key FROM blob WHERE did = ${alice.did} AND cid = ${cid}`;
      expect(blob).toMatchObject({ size: png.length, temp_key: null });
      const [ref] = await sql`SELECT record_uri FROM record_blob WHERE did = ${alice.did} AND blob_cid = ${cid}`;
      expect(ref?.record_uri).toBe(created.data.uri);
      const [events] = await sql`SELECT count(*)::int AS n FROM repo_seq WHERE did = ${alice.did}`;
      expect(events?.n).toBeGreaterThanOrEqual(4);
    } finally {
      await sql.end();
    }

    const s3 = new S3Client({
      endpoint: cluster.s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: cluster.bucket, Prefix: cluster.bucketPrefix }));
      const key = `${cluster.bucketPrefix}blocks/${alice.did}/${cid}`;
      expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([key]);
      const object = await s3.send(new GetObjectCommand({ Bucket: cluster.bucket, Key: key }));
      expect(new Uint8Array(await object.Body!.transformToByteArray())).toEqual(png);
    } finally {
      s3.destroy();
    }
    // Served by every node from the bucket.
    for (const node of cluster.nodes) {
      const res = await fetch(`${node.url}/xrpc/com.atproto.sync.getBlob?did=${alice.did}&cid=${cid}`);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(png);
    }

    const redis = new Redis(cluster.redisUrl, { lazyConnect: true });
    try {
      await redis.connect();
      const keys: string[] = [];
      let cursor = "0";
      for (let i = 0; i < 100; i++) {
        const [next, batch] = await redis.scan(cursor, "MATCH", `${cluster.keyPrefix}*`, "COUNT", 1000);
        keys.push(...batch);
        cursor = next;
        if (cursor === "0") break;
      }
      // Shared rate-limit counters (the tiers count every request above) and cache entries.
      expect(keys.some((k) => k.startsWith(`${cluster.keyPrefix}rl:`))).toBe(true);
      expect(keys.some((k) => !k.startsWith(`${cluster.keyPrefix}rl:`))).toBe(true);
    } finally {
      redis.disconnect();
    }

    const local = existsSync(cluster.dataDir) ? readdirSync(cluster.dataDir, { recursive: true }).map(String) : [];
    expect(local.filter((f) => f.endsWith(".sqlite") || f.startsWith("blobs"))).toEqual([]);
  });

  for (const { algorithm, nsid, query: makeQuery } of PROBES) {
    test(`a distributed ${algorithm} limit of ${L} allows exactly ${L} across the nodes`, async () => {
      const query = makeQuery();
      // 3L requests at once, spread round-robin over the nodes directly.
      const replies = await Promise.all(
        Array.from({ length: 3 * L }, (_, i) => xrpc(cluster.nodes[i % cluster.nodes.length]!.url, nsid, { query })),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 200).length).toBe(L);
      expect(statuses.filter((s) => s === 429).length).toBe(2 * L);
      expect(replies.find((r) => r.status === 429)?.body.error).toBe("RateLimitExceeded");
      // Every node refuses from now on, nginx included.
      for (const base of [...cluster.nodes.map((n) => n.url), cluster.url]) {
        expect((await xrpc(base, nsid, { query })).status).toBe(429);
      }
    });
  }

  test("a crashed node is routed around, and it rejoins when restarted", async () => {
    const victim = cluster.nodes[1]!;
    await victim.crash();
    const statuses = await Promise.all(
      Array.from({ length: 30 }, () => fetch(`${cluster.url}/xrpc/com.atproto.server.describeServer`).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    await victim.start();
    expect((await fetch(`${victim.url}/health/ready`)).status).toBe(200);
  }, 60_000);
});
