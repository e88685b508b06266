import type { AccountServices } from "@/account/services";
import type { BlobService } from "@/blob/service";
import type { CacheAside } from "@/cache/aside";
import type { RunConfig } from "@/config/resolve";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { Firehose } from "@/firehose/firehose";
import type { Metrics } from "@/http/metrics";
import type { Proxy } from "@/proxy/types";
import type { Logger } from "@/log";
import type { RateLimits } from "@/rate-limit/limiter";
import type { RepoService } from "@/repo/service";
import type { Sequencer } from "@/sequencer/sequencer";

/**
 * What every handler and service wiring sees: the resolved config, the
 * backends and the services over them. Types only, so that any room can
 * name it without importing the code that builds it (src/context.ts).
 */
export interface AppContext extends AccountServices {
  readonly config: RunConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly db: DatabasePlugin;
  readonly blobs: BlobStorePlugin;
  readonly cache: CachePlugin;
  /** Cache-aside reads over the cache slot, by the guide's categories and TTLs. */
  readonly cached: CacheAside;
  /** Repositories: the one write path (`repo.transactor`), record reads and CAR exports. */
  readonly repo: RepoService;
  /** Blobs over the blob slot: uploads, reads, listings, clean-up. */
  readonly blobService: BlobService;
  /** Rate limits: applied to every request by `handle`; `consumePoints` for costs that depend on the input. */
  readonly rateLimits: RateLimits;
  /** Writes firehose events inside the caller's transaction (`sequenceCommit(tx, ...)`, then `announce()`). */
  readonly sequencer: Sequencer;
  /** Service proxying: methods Aurora does not serve go to the AppView, chat, report service or the atproto-proxy target. */
  readonly proxy: Proxy;
  /** subscribeRepos on this node: follows the event table and serves WebSocket subscribers. */
  readonly firehose: Firehose;
  /**
   * The server's fetch function: the whole HTTP surface (the one request path, src/http/handle.ts),
   * usable without a socket in tests. `peer` is the socket's remote address (rate limits by client IP);
   * `upgrade` turns the request into a WebSocket (Bun's `server.upgrade`): absent in process.
   */
  readonly handle: (request: Request, peer?: string, upgrade?: (data: unknown) => boolean) => Promise<Response>;
  /** Close every backend, newest first. Safe to call twice. */
  close(): Promise<void>;
}
