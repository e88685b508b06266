/**
 * The reference PDS (@atproto/pds, installed as the benchmark installs it)
 * as a migration partner: a child process on Node 22 with its own data
 * directory, the shared test PLC, a real SMTP server for its mail, and a
 * placeholder AppView (it serves get/putPreferences only when one is set).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type ReferenceInstall, installReference } from "../../bench/reference/install";
import { freePort, freshSecrets, spawnServer } from "../../bench/targets/server";

const LAUNCHER = join(import.meta.dir, "../../bench/reference/launch.ts");

export interface RunningReference {
  /** `http://localhost:<port>`, its public URL. */
  readonly url: string;
  /** Its service DID (did:web:localhost%3A<port>), the audience of service JWTs for it. */
  readonly did: string;
  readonly coldStartMs: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

export const installReferencePds = (): Promise<ReferenceInstall> => installReference();

export async function startReference(opts: { install: ReferenceInstall; plcUrl: string; smtpUrl: string; workDir: string }): Promise<RunningReference> {
  const port = await freePort();
  const dataDir = join(opts.workDir, "data");
  const blobDir = join(opts.workDir, "blobs");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(blobDir, { recursive: true });
  const did = `did:web:localhost%3A${port}`;
  const logFile = join(opts.workDir, "server.log");
  const server = await spawnServer({
    cmd: [opts.install.node, LAUNCHER, opts.install.dir],
    cwd: opts.workDir,
    port,
    logFile,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: opts.workDir,
      PDS_HOSTNAME: "localhost",
      PDS_PORT: String(port),
      // Its own default is did:web:localhost, which would not tell two servers on one box apart.
      PDS_SERVICE_DID: did,
      PDS_DATA_DIRECTORY: dataDir,
      PDS_BLOBSTORE_DISK_LOCATION: blobDir,
      PDS_DID_PLC_URL: opts.plcUrl,
      PDS_DEV_MODE: "true",
      PDS_INVITE_REQUIRED: "false",
      PDS_RATE_LIMITS_ENABLED: "false",
      PDS_CRAWLERS: "",
      PDS_EMAIL_SMTP_URL: opts.smtpUrl,
      PDS_EMAIL_FROM_ADDRESS: "reference@localhost.test",
      // Nothing listens there: only the preference routes need it configured.
      PDS_BSKY_APP_VIEW_URL: "http://localhost:9",
      PDS_BSKY_APP_VIEW_DID: "did:web:localhost%3A9",
      ...freshSecrets(),
    },
  });
  return { url: `http://localhost:${port}`, did, coldStartMs: server.coldStartMs, logFile, stop: server.stop };
}
