import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ReferenceInstall } from "../reference/install";
import { freePort, freshSecrets, spawnServer, type Target } from "./server";

const LAUNCHER = join(import.meta.dir, "../reference/launch.ts");

/**
 * The reference PDS as its README runs it, on SQLite + disk, with the settings
 * that make it comparable: rate limits and invites off, dev mode (http and
 * .test handles), no crawlers to notify.
 */
export function referenceTarget(install: ReferenceInstall, plcUrl: string, workDir: string): Target {
  const dataDir = join(workDir, "data");
  const blobDir = join(workDir, "blobs");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(blobDir, { recursive: true });
  const secrets = freshSecrets();
  let port: number | undefined;
  return {
    name: "reference",
    description: `@atproto/pds ${install.pdsVersion} on Node ${install.nodeVersion}, SQLite + disk`,
    version: install.pdsVersion,
    blobstore: "disk",
    async start() {
      port ??= await freePort();
      return spawnServer({
        cmd: [install.node, LAUNCHER, install.dir],
        cwd: workDir,
        port,
        logFile: join(workDir, "server.log"),
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: workDir,
          NODE_ENV: "production",
          PDS_HOSTNAME: "localhost",
          PDS_PORT: String(port),
          PDS_DATA_DIRECTORY: dataDir,
          PDS_BLOBSTORE_DISK_LOCATION: blobDir,
          PDS_DID_PLC_URL: plcUrl,
          PDS_DEV_MODE: "true",
          PDS_INVITE_REQUIRED: "false",
          PDS_RATE_LIMITS_ENABLED: "false",
          PDS_CRAWLERS: "",
          ...secrets,
        },
      });
    },
    async cleanup() {},
  };
}
