/**
 * Runs ./driver.mjs (the real OAuth client + headless Chromium) under the
 * Node 22 of ./install.ts and returns the one JSON line it prints.
 */
import { join } from "node:path";
import type { OAuthClientInstall } from "./install";

const DRIVER = join(import.meta.dir, "driver.mjs");

/** The driver's steps, in the order it runs them (see driver.mjs). */
export type Step = "banner" | "authorize" | "sign-in" | "consent" | "callback" | "post" | "blob" | "read" | "appview" | "refresh" | "revoke" | "deny";

export interface DriverInput {
  pdsUrl: string;
  handle: string;
  password: string;
  plcUrl: string;
  steps?: Step[];
  /** Direct node URLs (http://localhost:<port>) the client's and the browser's requests rotate over. */
  nodes?: string[];
  appView?: { did: string };
  screenshotsDir?: string;
  timeoutMs?: number;
}

export interface DriverResult {
  ok: boolean;
  /** Per step: its duration (`ms`) and what it saw; see driver.mjs for each step's fields. */
  steps: Partial<Record<Step, { ms: number; [key: string]: any }>>;
  /** "client <node>" / "browser <node>" → requests sent there (only with `nodes`). */
  nodeHits: Record<string, number>;
  error?: { step: string; name?: string; message: string; page?: { url: string; title: string; text: string } };
  /** Wall time of the whole child process, set here. */
  seconds: number;
}

export async function runDriver(install: OAuthClientInstall, input: DriverInput): Promise<DriverResult> {
  const t0 = performance.now();
  const timeoutMs = input.timeoutMs ?? 120_000;
  const child = Bun.spawn([install.node, DRIVER], {
    cwd: install.dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, OAUTH_DRIVER_INPUT: JSON.stringify({ ...input, installDir: install.dir, timeoutMs }) },
    stdout: "pipe",
    stderr: "inherit",
    // The driver stops itself at timeoutMs and still prints its line; this is the backstop.
    timeout: timeoutMs + 15_000,
  });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const line = stdout.trim().split("\n").pop() ?? "";
  let parsed: Omit<DriverResult, "seconds">;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`the OAuth driver exited with code ${code} and printed no result line:\n${stdout.slice(-2000)}`);
  }
  return { ...parsed, seconds: Math.round((performance.now() - t0) / 100) / 10 };
}
