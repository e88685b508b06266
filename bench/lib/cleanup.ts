/**
 * Stop functions for everything the run started (servers, services, PLC), so
 * an interrupted run (Ctrl-C, timeout's SIGTERM) leaves no process behind.
 */
const pending = new Set<() => Promise<void>>();
let stopping = false;

/**
 * Register a stop function; call the returned function once it has run
 * normally. Something started while the run is being stopped is stopped at once.
 */
export function track(stop: () => Promise<void>): () => void {
  if (stopping) void stop().catch(() => {});
  else pending.add(stop);
  return () => pending.delete(stop);
}

export function stopAllOnSignal(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, async () => {
      stopping = true;
      console.error(`[bench] ${signal}: stopping what the run started`);
      // Last started, first stopped: servers before the services and directories they use.
      for (const stop of [...pending].reverse()) await stop().catch(() => {});
      process.exit(130);
    });
  }
}
