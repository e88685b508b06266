import type { UserConfig } from "./schema";

/** Typed identity for `aurora.config.ts`: `export default defineConfig({ ... })`. */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}
