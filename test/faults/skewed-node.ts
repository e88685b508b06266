/**
 * An extra node of a test cluster whose clock is off: the cluster's own
 * binary and prod.ts, started under libfaketime (LD_PRELOAD, FAKETIME
 * "+600" style offsets), so every clock call of the process (Date.now,
 * new Date, timers) is shifted while the machine's clock stays right. It is
 * not behind nginx; callers talk to it directly, beside the normal nodes.
 */
import type { Subprocess } from "bun";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Cluster } from "@test/support/cluster";
import { waitForHttp } from "@test/support/process";
import { freePort } from "@test/support/services";

/** Where Debian's libfaketime package puts the preload library. */
export const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

export interface SkewedNode {
  readonly url: string;
  readonly port: number;
  /** The offset asked for, in seconds. */
  readonly offsetSeconds: number;
  /** The node's clock minus ours, in seconds, from its HTTP Date header (±1 s). */
  measuredOffset(): Promise<number>;
  stop(): Promise<void>;
}

/** Why a skewed node cannot be started here, or null when it can. */
export function skewUnavailable(): string | null {
  return existsSync(LIBFAKETIME) ? null : `${LIBFAKETIME} is missing (apt-get install faketime)`;
}

/**
 * Start one more node of `cluster` with its clock `offsetSeconds` off. The
 * environment is the one test/support/cluster.ts gives its nodes (same
 * secrets, public URL, PLC directory, data directory), plus the preload.
 */
export async function startSkewedNode(cluster: Cluster, offsetSeconds: number, env: Record<string, string> = {}): Promise<SkewedNode> {
  const dir = dirname(cluster.dataDir);
  const port = await freePort();
  const sign = offsetSeconds < 0 ? "-" : "+";
  const log = join(dir, `skewed-${port}.log`);
  const proc: Subprocess = Bun.spawn([join(dir, "aurora"), "serve", "--config", "prod.ts"], {
    cwd: dir,
    env: {
      PATH: "/usr/bin:/bin",
      HOME: dir,
      PDS_HOSTNAME: "localhost",
      PDS_PUBLIC_URL: cluster.url,
      PDS_DID_PLC_URL: cluster.plcUrl,
      PDS_DEV_MODE: "true",
      PDS_INVITE_REQUIRED: "false",
      PDS_JWT_SECRET: "cluster-jwt-secret-0123456789",
      PDS_ADMIN_PASSWORD: "cluster-admin-password",
      PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: "5".repeat(64),
      PDS_DATA_DIRECTORY: cluster.dataDir,
      LOG_LEVEL: "warn",
      RATE_LIMIT_DISTRIBUTED: "true",
      ...env,
      PDS_PORT: String(port),
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME: `${sign}${Math.abs(offsetSeconds)}`,
    },
    stdout: Bun.file(log),
    stderr: Bun.file(`${log}.err`),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/health/live`, 30_000);
  } catch (err) {
    proc.kill("SIGKILL");
    await proc.exited;
    throw err;
  }
  return {
    url,
    port,
    offsetSeconds,
    async measuredOffset() {
      const res = await fetch(`${url}/health/live`);
      await res.arrayBuffer();
      return Math.round((Date.parse(res.headers.get("date") ?? "") - Date.now()) / 1000);
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
