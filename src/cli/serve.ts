import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import { loadSecrets } from "@/config/secrets";
import { createContext } from "@/context";
import { listen } from "@/http/server";
import { createLogger } from "@/log";
import { VERSION } from "@/version";

/**
 * `aurora serve`: start the PDS and run until SIGTERM/SIGINT, then stop
 * accepting, let in-flight requests finish (bounded), close backends, exit 0.
 */
export async function serve(file?: string): Promise<number> {
  const { config: user, source } = await loadUserConfig(file);
  const resolved = resolveConfig(user);
  const log = createLogger(resolved.log.level);
  const config = await loadSecrets(resolved, { persist: true, log });
  const ctx = await createContext(config, { log });
  const server = listen(ctx);
  log.info("aurora started", {
    version: VERSION,
    config: source,
    listen: `${config.service.bind}:${server.port}`,
    publicUrl: config.service.publicUrl,
    db: ctx.db.name,
    blobs: ctx.blobs.name,
    cache: ctx.cache.name,
  });

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info("shutting down", { signal, drainMs: config.service.shutdownTimeoutMs });
  if (!(await server.shutdown())) log.warn("in-flight requests did not finish in time and were closed");
  await ctx.close();
  log.info("stopped");
  return 0;
}
