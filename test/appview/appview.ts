/**
 * The reference AppView as a child process of a test: installed by
 * ./install.ts, started by ./launch.ts under Node 22, indexing one PDS's
 * firehose into its own schema of the given PostgreSQL.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@test/support/services";
import type { AppViewInstall } from "./install";

const LAUNCHER = join(import.meta.dir, "launch.ts");

export interface RunningAppView {
  readonly did: string;
  readonly url: string;
  readonly adminPassword: string;
  /** Stop consuming the firehose (the AppView falls behind the PDS), and start again from the first event. */
  pauseIndexing(): Promise<void>;
  resumeIndexing(): Promise<void>;
  /** Resident memory of the AppView process in MB, from /proc. */
  rssMb(): number;
  stop(): Promise<void>;
}

export async function startAppView(opts: {
  install: AppViewInstall;
  plcUrl: string;
  /** The PDS whose firehose it indexes; it may start listening later (the subscription retries). */
  pdsUrl: string;
  dbUrl: string;
  timeoutMs?: number;
}): Promise<RunningAppView> {
  const adminPassword = "appview-admin-password";
  // --no-deprecation: pg warns about its own query queueing inside bsky on every start.
  const child = Bun.spawn([opts.install.node, "--no-deprecation", LAUNCHER, opts.install.dir], {
    env: {
      PATH: process.env.PATH,
      APPVIEW_PORT: String(await freePort()),
      APPVIEW_DATAPLANE_PORT: String(await freePort()),
      APPVIEW_PLC_URL: opts.plcUrl,
      APPVIEW_PDS_URL: opts.pdsUrl,
      APPVIEW_DB_URL: opts.dbUrl,
      // Letters and underscores only (bsky refuses others); one schema per run.
      APPVIEW_DB_SCHEMA: `appview_${String.fromCharCode(...crypto.getRandomValues(new Uint8Array(8)).map((b) => 97 + (b % 26)))}`,
      APPVIEW_ADMIN_PASSWORD: adminPassword,
      ...(process.env.AURORA_APPVIEW_LOG ? { LOG_ENABLED: "true", LOG_LEVEL: process.env.AURORA_APPVIEW_LOG } : {}),
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines = watchLines(child.stdout);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const failed = (why: string) => () => Promise.reject(new Error(`the AppView launcher ${why} before it was ready`));
  const ready = await Promise.race([
    lines.next((msg) => "did" in msg),
    child.exited.then((code) => failed(`exited with code ${code}`)()),
    Bun.sleep(timeoutMs).then(failed(`took more than ${timeoutMs} ms`)),
  ]).catch((err) => {
    child.kill("SIGKILL");
    throw err;
  });
  const { did, url } = ready as { did: string; url: string };
  return {
    did,
    url,
    adminPassword,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024,
    async pauseIndexing() {
      const paused = lines.next((msg) => msg.indexing === false);
      child.kill("SIGUSR1");
      await paused;
    },
    async resumeIndexing() {
      const resumed = lines.next((msg) => msg.indexing === true);
      child.kill("SIGUSR2");
      await resumed;
    },
    async stop() {
      child.kill("SIGTERM");
      const exited = await Promise.race([child.exited, Bun.sleep(10_000).then(() => null)]);
      if (exited === null) child.kill("SIGKILL");
    },
  };
}

/** The launcher's JSON status lines on stdout, awaited by predicate; other output goes to stderr. */
function watchLines(stdout: ReadableStream<Uint8Array>) {
  const waiting: { match(msg: Record<string, unknown>): boolean; resolve(msg: Record<string, unknown>): void }[] = [];
  const dispatch = (line: string) => {
    let msg: Record<string, unknown> | undefined;
    try {
      msg = line.startsWith("{") ? JSON.parse(line) : undefined;
    } catch {}
    const i = msg ? waiting.findIndex((w) => w.match(msg)) : -1;
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(msg!);
    else if (line) process.stderr.write(`[appview] ${line}\n`);
  };
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      parts.forEach(dispatch);
    }
  })();
  return {
    next: (match: (msg: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve) => waiting.push({ match, resolve })),
  };
}
