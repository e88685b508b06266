import type { Registry } from "prom-client";
import type { Logger } from "@/log";

/** What the core hands every plugin at `init()`. */
export interface PluginContext {
  /** Absolute data directory (PDS_DATA_DIRECTORY); file backends live under it by default. */
  readonly dataDir: string;
  /** Logger already bound to `{ plugin: name }`. */
  readonly log: Logger;
  /** The server's metrics registry; plugins register their own series here. */
  readonly metrics: Registry;
}

/**
 * The lifecycle every backend shares: made by a factory from options (no I/O),
 * `init()` connects (and migrates, for databases), `health()` answers the
 * readiness probe by throwing a `PluginError` when the backend cannot serve,
 * `close()` releases connections. `close()` is safe to call after a failed
 * `init()` and more than once.
 */
export interface Plugin<Kind extends string> {
  readonly kind: Kind;
  /** Package-style name used in logs and errors, e.g. `db-postgres`. */
  readonly name: string;
  init(ctx: PluginContext): Promise<void>;
  health(): Promise<void>;
  close(): Promise<void>;
  /** Settings shown by `aurora config print`, with credentials already redacted. */
  describe(): Record<string, unknown>;
}

export const PLUGIN_KINDS = ["db", "blobs", "cache"] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];
