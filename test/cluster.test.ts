import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgresjs from "postgres";
import { type Cluster, startCluster } from "./support/cluster";

// Three compiled `aurora` processes on one PostgreSQL, Redis and S3 bucket, behind
// nginx running the site file `aurora nginx` wrote: the deployment of docs/SCALING.md.
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
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
  });

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
