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
import { ROOT, runCommand, waitForHttp } from "./process";
import { freePort } from "./services";

export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: no drain, no cleanup, like a crashed machine. */
  crash(): Promise<void>;
  /** Start the node again with the same config and port. */
  start(): Promise<void>;
  readonly running: boolean;
}

export interface Cluster {
  /** nginx in front of every node. */
  readonly url: string;
  readonly nodes: readonly ClusterNode[];
  /** The dedicated database's URL, to inspect rows directly. */
  readonly databaseUrl: string;
  readonly keyPrefix: string;
  readonly bucketPrefix: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes?: number;
  /** Extra environment for every node (e.g. rate limits). */
  env?: Record<string, string>;
}

/** Build the binary once per process. */
let built: Promise<string> | undefined;
function buildBinary(): Promise<string> {
  built ??= (async () => {
    const res = await runCommand(["npm", "run", "build"], { timeoutMs: 120_000 });
    if (res.code !== 0) throw new Error(`npm run build failed:\n${res.stderr}`);
    return join(ROOT, "dist/aurora");
  })();
  return built;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const pgUrl = required("AURORA_TEST_POSTGRES_URL");
  const redisUrl = required("AURORA_TEST_REDIS_URL");
  const s3 = required("AURORA_TEST_S3_ENDPOINT");
  const bucket = required("AURORA_TEST_S3_BUCKET");
  const dir = mkdtempSync(join(tmpdir(), "aurora-cluster-"));
  const tag = `c${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
  const database = `aurora_${tag}`;
  const admin = postgresjs(pgUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = pgUrl.replace(/\/[^/]*$/, `/${database}`);

  const binary = join(dir, "aurora");
  copyFileSync(await buildBinary(), binary);
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
    PDS_DEV_MODE: "true",
    PDS_INVITE_REQUIRED: "false",
    PDS_JWT_SECRET: "cluster-jwt-secret-0123456789",
    PDS_ADMIN_PASSWORD: "cluster-admin-password",
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: "5".repeat(64),
    PDS_DATA_DIRECTORY: join(dir, "data"),
    LOG_LEVEL: "warn",
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
  // Start concurrently: the nodes race to migrate and the migration lock must sort it out.
  await Promise.all(nodes.map((n) => n.start()));

  const nginxPrefix = join(dir, "nginx");
  mkdirSync(join(nginxPrefix, "logs"), { recursive: true });
  const gen = await runCommand(
    [binary, "nginx", "--config", "prod.ts", ...nodes.flatMap((n) => ["--node", `127.0.0.1:${n.port}`]), "--server-name", "localhost",
      "--listen", `127.0.0.1:${lbPort}`, "--max-fails", "1", "--fail-timeout", "5", "--out", join(nginxPrefix, "site.conf")],
    { cwd: dir, env: sharedEnv },
  );
  if (gen.code !== 0) throw new Error(`aurora nginx failed: ${gen.stderr}`);
  writeFileSync(
    join(nginxPrefix, "nginx.conf"),
    `pid ${nginxPrefix}/nginx.pid;
error_log ${nginxPrefix}/logs/error.log;
events { worker_connections 1024; }
http {
    access_log ${nginxPrefix}/logs/access.log;
    client_body_temp_path ${nginxPrefix}/body;
    proxy_temp_path ${nginxPrefix}/proxy;
    fastcgi_temp_path ${nginxPrefix}/fastcgi;
    uwsgi_temp_path ${nginxPrefix}/uwsgi;
    scgi_temp_path ${nginxPrefix}/scgi;
    include ${nginxPrefix}/site.conf;
}
`,
  );
  const nginx = Bun.spawn(["nginx", "-p", nginxPrefix, "-c", join(nginxPrefix, "nginx.conf"), "-g", "daemon off;"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  await waitForHttp(`${publicUrl}/health/live`, 15_000);

  return {
    url: publicUrl,
    nodes,
    databaseUrl,
    keyPrefix,
    bucketPrefix,
    async stop() {
      nginx.kill();
      await nginx.exited;
      await Promise.all(nodes.map((n) => n.kill()));
      const cleanup = postgresjs(pgUrl, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await cleanup.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through scripts/with-services.ts (npm test)`);
  return value;
}
