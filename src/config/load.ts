import { plugin } from "bun";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import * as api from "@/index";
import { ConfigError } from "@/errors";
import { fromEnv } from "./env";
import type { UserConfig } from "./schema";

let registered = false;

/**
 * Make `import ... from "aurora"` work in a config file anywhere on disk,
 * including next to the compiled binary where there is no node_modules.
 */
export function registerAuroraModule(): void {
  if (registered) return;
  registered = true;
  plugin({
    name: "aurora-config-api",
    setup(build) {
      build.module("aurora", () => ({ exports: { ...api }, loader: "object" }));
    },
  });
}

export const DEFAULT_CONFIG_FILE = "aurora.config.ts";

/**
 * Load the operator's config: the file given with --config, else
 * ./aurora.config.ts when present, else the built-in defaults (the
 * environment mapping alone). Returns the file used, for messages.
 */
export async function loadUserConfig(file?: string, cwd = process.cwd()): Promise<{ config: unknown; source: string }> {
  const path = file ? resolve(cwd, file) : resolve(cwd, DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (file) throw new ConfigError(`config file not found: ${path}`);
    return { config: fromEnv() satisfies UserConfig, source: "built-in defaults + environment" };
  }
  registerAuroraModule();
  let mod: Record<string, unknown>;
  try {
    mod = await import(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot load ${path}: ${(err as Error).message}`);
  }
  if (!("default" in mod)) throw new ConfigError(`${path} has no default export: end it with \`export default defineConfig({ ... })\``);
  return { config: mod.default, source: path };
}
