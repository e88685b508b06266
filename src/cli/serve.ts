import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import { loadSecrets } from "@/config/secrets";
import { createContext } from "@/context";
import { createLogger } from "@/log";
import { VERSION } from "@/version";

/** Slack over the largest body we accept, for multipart and header overhead. */
const BODY_SLACK_BYTES = 64 * 1024;

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
  const { service } = config;

  const server = Bun.serve({
    port: service.port,
    hostname: service.bind,
    maxRequestBodySize: Math.max(service.blobUploadLimit, service.maxJsonBodyBytes) + BODY_SLACK_BYTES,
    fetch: ctx.handle,
  });
  log.info("aurora started", {
    version: VERSION,
    config: source,
    url: `http://${service.bind}:${server.port}`,
    publicUrl: service.publicUrl,
    db: ctx.db.name,
    blobs: ctx.blobs.name,
    cache: ctx.cache.name,
  });

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info("shutting down", { signal, drainMs: service.shutdownTimeoutMs });
  const drained = await Promise.race([
    server.stop(false).then(() => true),
    Bun.sleep(service.shutdownTimeoutMs).then(() => false),
  ]);
  if (!drained) {
    log.warn("in-flight requests did not finish in time; closing them", { drainMs: service.shutdownTimeoutMs });
    await server.stop(true);
  }
  await ctx.close();
  log.info("stopped");
  return 0;
}
