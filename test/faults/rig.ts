/**
 * The fault suite's deployment: the 3-node cluster of test/support/cluster.ts
 * on a PostgreSQL, Redis and s3rver of its own (not the shared test services),
 * so a fault can kill, restart or cut them, and handles to do so.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import postgresjs from "postgres";
import { type Cluster, type ClusterNode, startCluster } from "@test/support/cluster";
import { S3_BUCKET, type S3Service, type Service, startPostgres, startRedis, startS3 } from "@test/support/services";

/** A cluster node that can also be frozen and thawed. */
export interface RigNode extends ClusterNode {
  /** SIGSTOP: the process hangs with its sockets open, like a stalled machine. */
  stop(): void;
  /** SIGCONT after `stop()`. */
  continue(): void;
  readonly stopped: boolean;
  /** The node's stdout and stderr so far (its log lines). */
  log(): string;
}

export interface Rig {
  readonly cluster: Cluster;
  readonly url: string;
  readonly nodes: readonly RigNode[];
  readonly pg: {
    readonly url: string;
    /** Immediate stop and start on the same port and data directory. */
    restart(): Promise<void>;
    /** pg_terminate_backend of every connection to the cluster's database; how many were cut. */
    terminateBackends(): Promise<number>;
  };
  readonly redis: { readonly url: string; kill(): Promise<void>; start(): Promise<void> };
  /** Started again by itself should it exit unbidden (real S3 does not); `unaskedExits` and `outages` say when. */
  readonly s3: Pick<S3Service, "url" | "kill" | "start" | "unaskedExits" | "outages">;
  /** Lines of every node's log matching `pattern`, prefixed with the node's index. */
  grepLogs(pattern: RegExp): string[];
  stop(): Promise<void>;
}

/** Temporary blobs are swept every 2 s once 12 s old (AURORA_TEST_BLOB_SWEEP), so check.ts can wait for a sweep. */
export const SWEEP = { intervalMs: 2_000, olderThanMs: 12_000 };

/** Start PostgreSQL, Redis, s3rver and the cluster on them. */
export async function startRig(env: Record<string, string> = {}): Promise<Rig> {
  const services: Service[] = [];
  try {
    const [pg, redis, s3] = await Promise.all([startPostgres(), startRedis(), startS3({ respawn: true })]);
    services.push(pg, redis, s3);
    const cluster = await startCluster({
      nodes: 3,
      services: { postgresUrl: pg.url, redisUrl: redis.url, s3Endpoint: s3.url, bucket: S3_BUCKET },
      env: {
        AURORA_TEST_BLOB_SWEEP: `${SWEEP.intervalMs}:${SWEEP.olderThanMs}`,
        // All load comes from one loopback IP: per-IP limits high enough that it is not throttled, yet still counted in Redis.
        RATE_LIMIT_AUTHENTICATED: "10000000",
        RATE_LIMIT_UNAUTHENTICATED: "10000000",
        ...env,
      },
    });
    return rigOf(cluster, pg, redis, s3);
  } catch (err) {
    await Promise.all(services.map((s) => s.stop().catch(() => {})));
    throw err;
  }
}

function rigOf(cluster: Cluster, pg: Service, redis: Service, s3: S3Service): Rig {
  const dir = dirname(cluster.dataDir);
  const database = new URL(cluster.databaseUrl).pathname.slice(1);
  const nodes = cluster.nodes.map((node, i) => rigNode(node, join(dir, `node${i}.log`)));
  return {
    cluster,
    url: cluster.url,
    nodes,
    pg: {
      url: pg.url,
      restart: () => pg.restart(),
      async terminateBackends() {
        const admin = postgresjs(pg.url, { max: 1, onnotice: () => {} });
        try {
          const rows = await admin`select pg_terminate_backend(pid) as cut from pg_stat_activity
            where datname = ${database} and pid <> pg_backend_pid()`;
          return rows.filter((r) => r.cut).length;
        } finally {
          await admin.end();
        }
      },
    },
    redis: { url: redis.url, kill: () => redis.kill(), start: () => redis.start() },
    s3,
    grepLogs(pattern) {
      return nodes.flatMap((n, i) => n.log().split("\n").filter((l) => pattern.test(l)).map((l) => `node${i}: ${l.slice(0, 400)}`));
    },
    async stop() {
      // The node logs outlive the cluster's directory, for a failure's post-mortem.
      const keep = process.env.AURORA_FAULT_LOGS;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        nodes.forEach((n, i) => writeFileSync(join(keep, `node${i}.log`), n.log()));
      }
      // A stopped process does not act on SIGTERM until it is continued.
      for (const n of nodes) if (n.stopped) n.continue();
      await cluster.stop().catch(() => {});
      await Promise.all([pg, redis, s3].map((s) => s.stop().catch(() => {})));
    },
  };
}

function rigNode(node: ClusterNode, logFile: string): RigNode {
  let stopped = false;
  const signal = (sig: "SIGSTOP" | "SIGCONT") => {
    if (node.pid === undefined || !node.running) throw new Error(`node on port ${node.port} is not running: cannot send ${sig}`);
    process.kill(node.pid, sig);
  };
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
  return {
    get port() {
      return node.port;
    },
    get url() {
      return node.url;
    },
    get running() {
      return node.running;
    },
    get pid() {
      return node.pid;
    },
    get stopped() {
      return stopped;
    },
    crash: () => node.crash(),
    start: () => node.start(),
    stop() {
      signal("SIGSTOP");
      stopped = true;
    },
    continue() {
      signal("SIGCONT");
      stopped = false;
    },
    log: () => read(logFile) + read(`${logFile}.err`),
  };
}
