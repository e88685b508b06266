import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { S3_BUCKET, S3_CREDENTIALS, type Service, startPostgres, startRedis, startS3 } from "@test/support/services";
import { track } from "../lib/cleanup";
import { freePort, freshSecrets, type Server, spawnServer, type Target } from "./server";

const ROOT = resolve(import.meta.dir, "../..");

/** SQLite + disk, or PostgreSQL + Redis + S3 with PostgreSQL over TCP or over its Unix socket. */
export type AuroraProfile = "sqlite" | "pg" | "pg-socket";

/**
 * How Aurora runs: the compiled binary (what operators deploy; built by
 * `buildAurora`) or `bun src/main.ts` from source.
 */
export type AuroraCommand = string[];

/** The operator's route: the stock env mapping, bound to loopback. */
const CONFIG = `import { defineConfig, fromEnv } from "aurora";
const env = fromEnv();
export default defineConfig({ ...env, service: { ...env.service, bind: "127.0.0.1" } });
`;

/**
 * Aurora with the reference's settings (PDS_* variables, rate limits and
 * invites off, dev mode, no crawlers), on SQLite + disk or on private
 * PostgreSQL + Redis + s3rver instances started for this run. With `nodes`
 * > 1 (PostgreSQL only), that many Aurora processes on the same backends,
 * secrets and public URL, as a cluster's nodes are: writes go round-robin
 * over them (see Server.nodes).
 */
export async function auroraTarget(profile: AuroraProfile, command: AuroraCommand, plcUrl: string, workDir: string, nodes = 1): Promise<Target> {
  if (nodes > 1 && profile === "sqlite") throw new Error("several Aurora processes need the shared PostgreSQL profile");
  mkdirSync(workDir, { recursive: true });
  const configFile = join(workDir, "bench.config.ts");
  writeFileSync(configFile, CONFIG);
  const services: Service[] = [];
  const stopServices = () => Promise.all(services.map((s) => s.stop())).then(() => {});
  const untrack = track(stopServices);
  const backendEnv: Record<string, string> = {};
  if (profile !== "sqlite") {
    const started = <T extends Service>(s: T) => (services.push(s), s);
    const [pg, redis, s3] = await Promise.all([startPostgres().then(started), startRedis().then(started), startS3().then(started)]).catch(
      async (err) => {
        untrack();
        await stopServices();
        throw err;
      },
    );
    Object.assign(backendEnv, {
      DATABASE_TYPE: "postgres",
      DATABASE_URL: profile === "pg-socket" ? `postgresql://postgres@localhost:${pg.port}/postgres?host=${pg.socketDir}` : pg.url,
      REDIS_URL: redis.url,
      PDS_BLOBSTORE_TYPE: "s3",
      PDS_BLOBSTORE_S3_BUCKET: S3_BUCKET,
      PDS_BLOBSTORE_S3_ENDPOINT: s3.url,
      PDS_BLOBSTORE_S3_REGION: "us-east-1",
      PDS_BLOBSTORE_S3_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      PDS_BLOBSTORE_S3_FORCE_PATH_STYLE: "true",
      // s3rver stores aws-chunked bodies verbatim (RECIPES.md); real S3 does not need this.
      PDS_BLOBSTORE_S3_CHECKSUMS: "when_required",
    });
  } else {
    backendEnv.PDS_BLOBSTORE_DISK_LOCATION = join(workDir, "blobs");
  }
  const secrets = freshSecrets();
  const ports: number[] = [];
  const backends = profile === "sqlite" ? "SQLite + disk" : `PostgreSQL${profile === "pg-socket" ? " (Unix socket)" : ""} + Redis + s3rver`;
  const startNode = (i: number) =>
    spawnServer({
      cmd: [...command, "serve", "--config", configFile],
      cwd: workDir,
      port: ports[i]!,
      logFile: join(workDir, `server${i || ""}.log`),
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: workDir,
        LOG_LEVEL: "warn",
        PDS_HOSTNAME: "localhost",
        PDS_PORT: String(ports[i]),
        PDS_DATA_DIRECTORY: join(workDir, "data"),
        PDS_DID_PLC_URL: plcUrl,
        PDS_DEV_MODE: "true",
        PDS_INVITE_REQUIRED: "false",
        PDS_RATE_LIMITS_ENABLED: "false",
        // The firehose workload's subscribers all come from loopback.
        PDS_FIREHOSE_MAX_SUBSCRIBERS_PER_IP: "10000",
        PDS_CRAWLERS: "",
        // One service identity for every node, so a session from one is valid on the others.
        ...(nodes > 1 ? { PDS_PUBLIC_URL: `http://localhost:${ports[0]}` } : {}),
        ...secrets,
        ...backendEnv,
      },
    });
  return {
    name: nodes > 1 ? `aurora-${profile}-${nodes}` : `aurora-${profile}`,
    description:
      nodes > 1
        ? `${nodes} Aurora ${auroraVersion()} processes on Bun ${Bun.version}, one ${backends}: writes round-robin over them, reads, blobs, firehose and getRepo on the first; CPU and RSS add them up`
        : `Aurora ${auroraVersion()} on Bun ${Bun.version}, ${backends}`,
    version: auroraVersion(),
    blobstore: profile === "sqlite" ? "disk" : "S3 (s3rver)",
    async start() {
      while (ports.length < nodes) ports.push(await freePort());
      // The first alone creates and migrates the database; the others start on it.
      const first = await startNode(0);
      if (nodes === 1) return first;
      const started: Server[] = [first];
      try {
        for (let i = 1; i < nodes; i++) started.push(await startNode(i));
      } catch (err) {
        await Promise.all(started.map((s) => s.stop()));
        throw err;
      }
      return {
        url: first.url,
        pid: first.pid,
        coldStartMs: first.coldStartMs,
        nodes: started.map((s) => ({ url: s.url, pid: s.pid })),
        stop: async () => {
          await Promise.all(started.map((s) => s.stop()));
        },
      };
    },
    async cleanup() {
      untrack();
      await stopServices();
    },
  };
}

export function auroraVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * Compile Aurora exactly as `npm run build` does (flags read from
 * package.json, so they cannot drift), into `outDir` rather than dist/, which
 * the test suite builds concurrently.
 */
export async function buildAurora(outDir: string): Promise<AuroraCommand> {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const args = (pkg.scripts.build ?? "").trim().split(/\s+/);
  const out = args.indexOf("--outfile");
  if (args[0] !== "bun" || args[1] !== "build" || out < 0) throw new Error(`unexpected build script: ${pkg.scripts.build}`);
  const binary = join(outDir, "aurora");
  args[out + 1] = binary;
  mkdirSync(outDir, { recursive: true });
  const child = Bun.spawn([process.execPath, ...args.slice(1)], { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 180_000 });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`building Aurora failed (exit ${code}):\n${stderr}`);
  return [binary];
}

/** `bun src/main.ts`: no build step, includes transpiling in the cold start. */
export function auroraFromSource(): AuroraCommand {
  return [process.execPath, join(ROOT, "src/main.ts")];
}
