/**
 * Real backing services for tests: PostgreSQL, Redis and s3rver, each an
 * ephemeral process on a free loopback port with its data in a temp dir.
 * scripts/with-services.ts starts one shared set for the whole run and puts
 * their URLs in the environment; tests that kill or restart a service start
 * a private one with these same functions.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eventually } from "@test/support/eventually";

export interface Service {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Stop and start again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stop without removing the data, for outage tests; `start()` brings it back. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

const ROOT = resolve(import.meta.dir, "../..");

export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

function run(cmd: string, args: string[], opts: { user?: string } = {}) {
  const [bin, argv] = opts.user ? ["runuser", ["-u", opts.user, "--", cmd, ...args]] : [cmd, args];
  const res = spawnSync(bin, argv as string[], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${res.stderr || res.stdout}`);
  return res.stdout;
}

function pgBin(): string {
  const base = "/usr/lib/postgresql";
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  return join(base, versions[0], "bin");
}

/** The Service around a started process: restart = kill + start; stop = `shutdown` (default: kill), then remove `dir`. */
function service(parts: { url: string; port: number; dir: string; start(): Promise<void>; kill(): Promise<void>; shutdown?(): Promise<void> }): Service {
  const { url, port, dir, start, kill } = parts;
  return {
    url,
    port,
    start,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await (parts.shutdown ?? kill)().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const asRoot = process.getuid?.() === 0;

/** PostgreSQL on a free loopback port; `socketDir` holds its Unix socket too (`.s.PGSQL.<port>`). */
export async function startPostgres(): Promise<Service & { readonly socketDir: string }> {
  const bin = pgBin();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "aurora-pg-"));
  const user = asRoot ? { user: "postgres" } : {};
  if (asRoot) spawnSync("chown", ["-R", "postgres:postgres", dir]);
  run(join(bin, "initdb"), ["-D", join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"], user);
  const start = async () => {
    run(join(bin, "pg_ctl"), ["-D", join(dir, "data"), "-l", join(dir, "log"), "-w", "-t", "30", "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`, "start"], user);
  };
  const kill = async () => {
    run(join(bin, "pg_ctl"), ["-D", join(dir, "data"), "-m", "immediate", "-w", "stop"], user);
  };
  await start();
  const pg = service({
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start,
    kill,
    // A clean stop (not immediate) so no server process outlives the test run.
    shutdown: async () => {
      run(join(bin, "pg_ctl"), ["-D", join(dir, "data"), "-m", "fast", "-w", "stop"], user);
    },
  });
  return Object.assign(pg, { socketDir: dir });
}

export async function startRedis(): Promise<Service> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "aurora-redis-"));
  const start = async () => {
    run("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
      "--daemonize", "yes", "--dir", dir, "--pidfile", join(dir, "redis.pid")]);
    await eventually(
      () => spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout.trim() === "PONG",
      { timeoutMs: 15_000, intervalMs: 50, what: "redis" },
    );
  };
  const kill = async () => {
    spawnSync("redis-cli", ["-p", String(port), "shutdown", "nosave"]);
    await eventually(
      () => spawnSync("redis-cli", ["-p", String(port), "ping"]).status !== 0,
      { timeoutMs: 15_000, intervalMs: 50, what: "redis shutdown" },
    );
  };
  await start();
  return service({ url: `redis://127.0.0.1:${port}`, port, dir, start, kill });
}

export const S3_BUCKET = "aurora-test";
export const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/**
 * s3rver on a free port, with its DELETE race patched out
 * (s3rver-keep-dirs.cjs). With `respawn` (the run's shared instance, the
 * fault rig's) it is started again on the same port and data if it still
 * exits unasked, and each such outage is recorded: from the exit to the
 * restart answering (Infinity until then). Its stderr goes to `<dir>.log`;
 * an unasked exit prints the log's tail.
 */
export async function startS3(options: { respawn?: boolean } = {}): Promise<S3Service> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "aurora-s3-"));
  const logPath = `${dir}.log`;
  let child: ReturnType<typeof spawn> | undefined;
  let asked = false;
  let unaskedExits = 0;
  const outages: { from: number; to: number }[] = [];
  let restarting: Promise<void> | undefined;
  const url = `http://127.0.0.1:${port}`;
  // Until it answers or someone kills it on purpose; a failed start (its port briefly held) is tried again.
  const respawn = async (outage: { from: number; to: number }) => {
    for (let attempt = 1; !asked; attempt++) {
      try {
        await start();
        outage.to = Date.now();
        return;
      } catch (err) {
        console.error(`[services] s3rver restart ${attempt} failed: ${err}`);
        if (attempt === 10) return;
        await Bun.sleep(500);
      }
    }
  };
  const start = async () => {
    repairS3Store(dir);
    asked = false;
    const log = openSync(logPath, "a");
    // s3rver signs ListObjectsV2 continuation tokens with DES, which Node 20's OpenSSL 3 only has in its legacy provider.
    const proc = spawn("node", ["--openssl-legacy-provider", "--require", join(ROOT, "test/support/s3rver-keep-dirs.cjs"), join(ROOT, "node_modules/s3rver/bin/s3rver.js"), "-d", dir, "-a", "127.0.0.1", "-p",
      String(port), "--configure-bucket", S3_BUCKET, "--silent"], { stdio: ["ignore", "ignore", log] });
    closeSync(log);
    child = proc;
    proc.once("exit", (code, signal) => {
      if (asked || child !== proc) return;
      unaskedExits++;
      const tail = readFileSync(logPath, "utf8").split("\n").slice(-15).join("\n");
      console.error(`[services] s3rver on ${port} exited unasked (${signal ?? code})${options.respawn ? ", starting it again" : ""}:\n${tail}`);
      if (!options.respawn) return;
      const outage = { from: Date.now(), to: Number.POSITIVE_INFINITY };
      outages.push(outage);
      restarting = respawn(outage).finally(() => (restarting = undefined));
    });
    await eventually(async () => (await fetch(url)).status > 0, { timeoutMs: 15_000, intervalMs: 50, what: "s3rver" });
  };
  const kill = async () => {
    asked = true;
    // A restart under way would otherwise start a child after this kill.
    while (restarting) await restarting;
    // A child killed by a signal has signalCode set and exitCode null.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  };
  await start();
  const base = service({ url, port, dir, start, kill });
  return {
    ...base,
    stop: async () => {
      await base.stop();
      rmSync(logPath, { force: true });
    },
    dir,
    get pid() {
      return child?.pid;
    },
    get unaskedExits() {
      return unaskedExits;
    },
    get outages() {
      return outages;
    },
  };
}

export interface S3Service extends Service {
  readonly dir: string;
  readonly pid: number | undefined;
  /** Times it exited when not killed on purpose. */
  readonly unaskedExits: number;
  /** With `respawn`: when it was away after those exits, from the exit to the restart answering (Infinity while restarting). */
  readonly outages: readonly { from: number; to: number }[];
}

/**
 * s3rver writes an object's metadata file after its bytes and replies only
 * then, and not atomically: killed in between, it leaves a metadata file that
 * does not parse, and from then on every listing of that prefix fails with
 * InternalError. Such an object's PUT was never acknowledged, so it is removed
 * before s3rver starts, as S3 would show a PUT that never completed.
 */
function repairS3Store(dir: string): void {
  const suffix = "._S3rver_metadata.json";
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(suffix)) continue;
    const path = join(entry.parentPath, entry.name);
    try {
      JSON.parse(readFileSync(path, "utf8"));
    } catch {
      const base = path.slice(0, -suffix.length);
      for (const p of [path, `${base}._S3rver_object`, `${base}._S3rver_object.md5`]) rmSync(p, { force: true });
      console.error(`[services] s3rver store: removed ${base.slice(dir.length)}, whose write was cut off`);
    }
  }
}
