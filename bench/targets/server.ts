import { readFileSync } from "node:fs";
import { freePort } from "@test/support/services";
import { track } from "../lib/cleanup";

/** A PDS process under test, healthy and listening on loopback. */
export interface Server {
  /** Base URL for requests: http://127.0.0.1:PORT. */
  readonly url: string;
  readonly pid: number;
  /** Spawn to the first 200 from /xrpc/_health, ms. */
  readonly coldStartMs: number;
  /**
   * Every process when the target runs several on the same backends
   * (aurora-pg-2): writes go round-robin over them, and CPU and memory
   * figures add them up. Absent for a single process.
   */
  readonly nodes?: readonly { url: string; pid: number }[];
  stop(): Promise<void>;
}

/** Base URLs writes go round-robin over. */
export function nodeUrls(server: Server): string[] {
  return server.nodes?.map((n) => n.url) ?? [server.url];
}

/** Every process whose CPU and memory count for the server. */
export function nodePids(server: Server): number[] {
  return server.nodes?.map((n) => n.pid) ?? [server.pid];
}

/** A server configuration that can be started (again, on the same data) and finally cleaned up. */
export interface Target {
  readonly name: string;
  /** One line for the report: runtime, backends. */
  readonly description: string;
  readonly version: string;
  /** Where uploadBlob stores blobs, named in the report: "disk", "S3 (s3rver)". */
  readonly blobstore: string;
  start(): Promise<Server>;
  cleanup(): Promise<void>;
}

export interface SpawnOptions {
  cmd: string[];
  env: Record<string, string>;
  cwd: string;
  port: number;
  /** Server output goes here, for diagnosis after a failed run. */
  logFile: string;
  timeoutMs?: number;
}

const STOP_GRACE_MS = 10_000;

/** Spawn a PDS and poll its health endpoint every few ms, so the cold-start time has millisecond resolution. */
export async function spawnServer(opts: SpawnOptions): Promise<Server> {
  const url = `http://127.0.0.1:${opts.port}`;
  const t0 = performance.now();
  const child = Bun.spawn(opts.cmd, {
    cwd: opts.cwd,
    env: opts.env,
    stdin: "ignore",
    stdout: Bun.file(opts.logFile),
    stderr: Bun.file(opts.logFile),
  });
  const deadline = t0 + (opts.timeoutMs ?? 60_000);
  let coldStartMs: number | undefined;
  while (performance.now() < deadline && child.exitCode === null) {
    const ok = await fetch(`${url}/xrpc/_health`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) {
      coldStartMs = performance.now() - t0;
      break;
    }
    await Bun.sleep(5);
  }
  const stop = async () => {
    untrack();
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(STOP_GRACE_MS).then(() => false)]);
    if (!exited) {
      child.kill("SIGKILL");
      await child.exited;
    }
  };
  const untrack = track(stop);
  if (coldStartMs === undefined) {
    await stop();
    const log = readFileSync(opts.logFile, "utf8").slice(-2000);
    throw new Error(`${opts.cmd.join(" ")} did not become healthy (exit ${child.exitCode}):\n${log}`);
  }
  return { url, pid: child.pid, coldStartMs, stop };
}

/** Secrets for a throwaway server: random hex (a random 32-byte value is a valid secp256k1 key). */
function randomHex(bytes = 32): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

/** Fresh secrets for one server under test, as PDS_* variables (both PDSes read the same names). */
export function freshSecrets(): Record<string, string> {
  return {
    PDS_JWT_SECRET: randomHex(),
    PDS_ADMIN_PASSWORD: randomHex(16),
    PDS_DPOP_SECRET: randomHex(),
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: randomHex(),
  };
}

export { freePort };
