/**
 * A real multi-node deployment on loopback: N processes of the compiled
 * `aurora` binary with a prod-style config file (PostgreSQL + Redis + S3,
 * shared by all), and nginx running the site file `aurora nginx` generated.
 * It is what docs/SCALING.md tells an operator to do, scaled down to one box.
 */
import { type Subprocess } from "bun";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgresjs from "postgres";
import type { UserConfig } from "@/config/schema";
import { type TestPlc, startPlc } from "./plc";
import { runCommand, waitForHttp } from "./process";
import { builtBinary } from "./binary";
import { writeNginxConf } from "./nginx";
import { freePort } from "./services";

export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: no drain, no cleanup, like a crashed machine. */
  crash(): Promise<void>;
  /** Start the node again with the same config and port. */
  start(): Promise<void>;
  readonly running: boolean;
  /** The running process's id (undefined before the first start), for signals such as SIGSTOP. */
  readonly pid: number | undefined;
}

export interface Cluster {
  /** nginx in front of every node: the public URL the nodes advertise (PDS_PUBLIC_URL). */
  readonly url: string;
  /** nginx's port, for WebSocket clients that take a port. */
  readonly port: number;
  readonly nodes: readonly ClusterNode[];
  /** The in-memory PLC directory every node registers DIDs with (PDS_DID_PLC_URL). */
  readonly plcUrl: string;
  /** The dedicated database's URL, to inspect rows directly. */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Redis keys of this cluster start with it. */
  readonly keyPrefix: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  /** Blob objects of this cluster start with it. */
  readonly bucketPrefix: string;
  /** PDS_DATA_DIRECTORY of every node: with shared backends nothing should land there. */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** @default 3 */
  nodes?: number;
  /** Extra environment for every node (e.g. RATE_LIMIT_DISTRIBUTED). */
  env?: Record<string, string>;
  /**
   * `rateLimit` of prod.ts, merged over what the environment gives: per-route
   * rules and routes exist only in the config file.
   * @default none
   */
  rateLimit?: UserConfig["rateLimit"];
  /** A PLC directory the caller started (and stops), when something else must know it before the nodes start. @default one of its own */
  plc?: TestPlc;
  /**
   * Backing services the caller started (and may restart), instead of the
   * shared ones of scripts/with-services.ts. @default the AURORA_TEST_* ones
   */
  services?: { postgresUrl: string; redisUrl: string; s3Endpoint: string; bucket: string };
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const given = options.services;
  const pgUrl = given?.postgresUrl ?? required("AURORA_TEST_POSTGRES_URL");
  const redisUrl = given?.redisUrl ?? required("AURORA_TEST_REDIS_URL");
  const s3 = given?.s3Endpoint ?? required("AURORA_TEST_S3_ENDPOINT");
  const bucket = given?.bucket ?? required("AURORA_TEST_S3_BUCKET");
  const dir = mkdtempSync(join(tmpdir(), "aurora-cluster-"));
  const plc: TestPlc = options.plc ?? (await startPlc());
  const tag = `c${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const database = `aurora_${tag}`;
  const admin = postgresjs(pgUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = pgUrl.replace(/\/[^/]*$/, `/${database}`);

  const binary = join(dir, "aurora");
  copyFileSync(await builtBinary(), binary);
  await runCommand(["chmod", "+x", binary]);
  const lbPort = await freePort();
  const publicUrl = `http://localhost:${lbPort}`;
  const keyPrefix = `${tag}:`;
  const bucketPrefix = `${tag}/`;
  writeFileSync(
    join(dir, "prod.ts"),
    `import { defineConfig, fromEnv, postgres, redis, s3 } from "aurora";
const env = fromEnv();
export default defineConfig({
  ...env,
  service: { ...env.service, bind: "127.0.0.1" },
  rateLimit: { ...env.rateLimit, ...${JSON.stringify(options.rateLimit ?? {})} },
  db: postgres({ url: ${JSON.stringify(databaseUrl)}, maxConnections: 10, minConnections: 2 }),
  blobs: s3({ bucket: ${JSON.stringify(bucket)}, endpoint: ${JSON.stringify(s3)}, prefix: ${JSON.stringify(bucketPrefix)},
    accessKeyId: "S3RVER", secretAccessKey: "S3RVER", checksums: "when_required" }),
  cache: redis({ url: ${JSON.stringify(redisUrl)}, keyPrefix: ${JSON.stringify(keyPrefix)} }),
});
`,
  );
  const sharedEnv = {
    PATH: "/usr/bin:/bin",
    HOME: dir,
    PDS_HOSTNAME: "localhost",
    PDS_PUBLIC_URL: publicUrl,
    PDS_DID_PLC_URL: plc.url,
    PDS_DEV_MODE: "true",
    PDS_INVITE_REQUIRED: "false",
    PDS_JWT_SECRET: "cluster-jwt-secret-0123456789",
    PDS_ADMIN_PASSWORD: "cluster-admin-password",
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: "5".repeat(64),
    PDS_DATA_DIRECTORY: join(dir, "data"),
    LOG_LEVEL: "warn",
    // As docs/SCALING.md configures the nodes: one set of rate-limit counters for the whole cluster.
    RATE_LIMIT_DISTRIBUTED: "true",
    ...options.env,
  };

  const nodes: (ClusterNode & { kill(): Promise<void> })[] = [];
  for (let i = 0; i < (options.nodes ?? 3); i++) {
    const port = await freePort();
    let proc: Subprocess | undefined;
    const logFile = join(dir, `node${i}.log`);
    const node = {
      port,
      url: `http://127.0.0.1:${port}`,
      get running() {
        return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
      },
      get pid() {
        return proc?.pid;
      },
      async start() {
        proc = Bun.spawn([binary, "serve", "--config", "prod.ts"], {
          cwd: dir,
          env: { ...sharedEnv, PDS_PORT: String(port) },
          stdout: Bun.file(logFile),
          stderr: Bun.file(`${logFile}.err`),
        });
        await waitForHttp(`http://127.0.0.1:${port}/health/live`, 30_000);
      },
      async crash() {
        proc?.kill("SIGKILL");
        await proc?.exited;
      },
      async kill() {
        if (!node.running) return;
        proc?.kill("SIGTERM");
        await proc?.exited;
      },
    };
    nodes.push(node);
  }
  let nginx: Subprocess | undefined;
  const stop = async () => {
    nginx?.kill();
    await nginx?.exited;
    await Promise.all(nodes.map((n) => n.kill()));
    if (!options.plc) await plc.stop();
    const cleanup = postgresjs(pgUrl, { max: 1, onnotice: () => {} });
    await cleanup.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await cleanup.end();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Start concurrently: the nodes race to migrate and the migration lock must sort it out.
    await Promise.all(nodes.map((n) => n.start()));
    nginx = await startNginx(binary, dir, nodes, lbPort, sharedEnv);
  } catch (err) {
    // A half-started cluster must not outlive the test that failed to start it.
    await stop().catch(() => {});
    throw err;
  }

  return {
    url: publicUrl,
    port: lbPort,
    nodes,
    plcUrl: plc.url,
    databaseUrl,
    redisUrl,
    keyPrefix,
    s3Endpoint: s3,
    bucket,
    bucketPrefix,
    dataDir: sharedEnv.PDS_DATA_DIRECTORY,
    stop,
  };
}

/** nginx in the foreground on `port`, running the site file `aurora nginx` writes for `nodes`. */
async function startNginx(binary: string, dir: string, nodes: readonly ClusterNode[], port: number, env: Record<string, string>): Promise<Subprocess> {
  const nginxPrefix = join(dir, "nginx");
  mkdirSync(join(nginxPrefix, "logs"), { recursive: true });
  const gen = await runCommand(
    [binary, "nginx", "--config", "prod.ts", ...nodes.flatMap((n) => ["--node", `127.0.0.1:${n.port}`]), "--server-name", "localhost",
      "--listen", `127.0.0.1:${port}`, "--max-fails", "1", "--fail-timeout", "5", "--out", join(nginxPrefix, "site.conf")],
    { cwd: dir, env },
  );
  if (gen.code !== 0) throw new Error(`aurora nginx failed: ${gen.stderr}`);
  const conf = writeNginxConf(nginxPrefix);
  const nginx = Bun.spawn(["nginx", "-p", nginxPrefix, "-c", conf, "-g", "daemon off;"], {
    stdout: "ignore",
    stderr: Bun.file(join(nginxPrefix, "logs", "stderr.log")),
  });
  try {
    await waitForHttp(`http://localhost:${port}/health/live`, 15_000);
  } catch (err) {
    nginx.kill();
    throw err;
  }
  return nginx;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through scripts/with-services.ts (npm test)`);
  return value;
}
