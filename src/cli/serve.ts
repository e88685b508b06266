import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import { loadSecrets } from "@/config/secrets";
import { createContext } from "@/context";
import { listen } from "@/http/server";
import { startEmbeddedPlc } from "@/identity/embedded-plc";
import { createLogger } from "@/log";
import { VERSION } from "@/version";

/**
 * `aurora serve`: start the PDS and run until SIGTERM/SIGINT, then stop
 * accepting, let in-flight requests finish (bounded), close backends, exit 0.
 * `prepare` adjusts the loaded user config before it is resolved (`aurora dev`
 * fills in its defaults with it). With `identity.plcUrl: "embedded"` the PLC
 * directory runs in this process (src/identity/embedded-plc.ts).
 */
export async function serve(file?: string, prepare: (user: unknown) => unknown = (user) => user): Promise<number> {
  const { config: user, source } = await loadUserConfig(file);
  const resolved = resolveConfig(prepare(user));
  const log = createLogger(resolved.log.level);
  const plc = await startEmbeddedPlc(await loadSecrets(resolved, { persist: true, log }), log);
  const config = plc.config;
  const ctx = await createContext(config, { log });
  await plc.checkAccounts(ctx.db);
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
  await plc.stop();
  log.info("stopped");
  return 0;
}
