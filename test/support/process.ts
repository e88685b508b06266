import { resolve } from "node:path";
import { eventually } from "./eventually";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = process.execPath;

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (bounded in time) and collect its output. */
export async function runCommand(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<Ran> {
  const child = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 20_000,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

/** Poll a URL until it answers (bounded), for servers started as child processes. */
export function waitForHttp(url: string, timeoutMs = 15_000): Promise<Response> {
  return eventually(() => fetch(url), { timeoutMs, intervalMs: 50, what: `an answer from ${url}` });
}
