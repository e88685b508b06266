import { createHash } from "node:crypto";
import type { CachePlugin, CacheScript } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import { PluginError } from "@/errors";

/**
 * "Seen once" for OAuth: DPoP proof `jti`s and client assertion `jti`s must
 * each be accepted a single time while they could still be presented.
 */
export interface ReplayStore {
  /**
   * True the first time `key` is seen in `namespace` (lowercase letters,
   * digits, dashes) while an earlier sighting lives; false for a replay.
   * A sighting lives `ttlSeconds` (> 0): cover the whole time the
   * presented token or proof would otherwise be accepted.
   */
  unique(namespace: string, key: string, ttlSeconds: number): Promise<boolean>;
}

/** Keys up to this length are stored as written; longer ones (and their namespace) by SHA-256. */
const MAX_PLAIN_KEY = 128;
/** Expired rows removed by one clean-up; the table never needs a long-running delete. */
const CLEANUP_BATCH = 500;
/** Least time between two clean-ups in one process. */
const CLEANUP_EVERY_MS = 60_000;

/** Sets KEYS[1] when absent, for ARGV[1] ms; 1 when it was set, 0 when it already existed. */
export const SET_IF_ABSENT_SCRIPT: CacheScript<number> = {
  name: "oauth:set-if-absent",
  lua: `if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0`,
  local(store, keys, args) {
    const key = keys[0] as string;
    if (store.get(key) !== null) return 0;
    store.set(key, "1", Number(args[0]));
    return 1;
  },
};

/**
 * Where the sightings live. The cache when it is shared (Redis: every node
 * sees them) or when the database is not shared either (one process: the
 * memory cache is as good, and cheaper). With a shared database but a
 * per-process cache, the `oauth_replay` table, so a proof replayed to another
 * node is still caught. While a shared cache is unreachable the table takes
 * over rather than let replays through.
 *
 * The memory cache is an LRU: under memory pressure a sighting can be evicted
 * early, like any other entry of a single-process server's cache.
 */
export function createReplayStore(deps: { cache: CachePlugin; db: DatabasePlugin; now?: () => number }): ReplayStore {
  const now = deps.now ?? Date.now;
  const useCache = deps.cache.shared || !deps.db.shared;
  let lastCleanup = 0;

  const throughDb = async (stored: string, ttlMs: number): Promise<boolean> => {
    const at = now();
    const nowIso = new Date(at).toISOString();
    const expiresAt = new Date(at + ttlMs).toISOString();
    // One statement: inserted when new, taken over when the old sighting has expired, untouched when it lives.
    const result = await deps.db
      .db()
      .insertInto("oauth_replay")
      .values({ key: stored, expires_at: expiresAt })
      .onConflict((oc) => oc.column("key").doUpdateSet({ expires_at: expiresAt }).where("oauth_replay.expires_at", "<=", nowIso))
      .executeTakeFirst();
    if (at - lastCleanup >= CLEANUP_EVERY_MS) {
      lastCleanup = at;
      await removeExpired(deps.db, nowIso).catch(() => {});
    }
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  };

  return {
    async unique(namespace, key, ttlSeconds) {
      if (!/^[a-z0-9-]+$/.test(namespace)) throw new Error(`replay namespace must be lowercase letters, digits and dashes: ${JSON.stringify(namespace)}`);
      if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw new Error(`replay ttl must be a positive number of seconds, got ${ttlSeconds}`);
      const stored = storedKey(namespace, key);
      const ttlMs = Math.max(1, Math.ceil(ttlSeconds * 1000));
      if (useCache) {
        try {
          return (await deps.cache.atomic(SET_IF_ABSENT_SCRIPT, [`oauth-replay:${stored}`], [ttlMs])) === 1;
        } catch (err) {
          if (!(err instanceof PluginError && err.unavailable)) throw err;
        }
      }
      return throughDb(stored, ttlMs);
    },
  };
}

/** `namespace:key`, or `namespace#sha256` for long keys: the two forms cannot collide (namespaces have neither sign). */
function storedKey(namespace: string, key: string): string {
  if (key.length <= MAX_PLAIN_KEY) return `${namespace}:${key}`;
  return `${namespace}#${createHash("sha256").update(key).digest("base64url")}`;
}

/** Deletes at most CLEANUP_BATCH expired rows (the subquery bounds it on SQLite and PostgreSQL alike). */
async function removeExpired(db: DatabasePlugin, nowIso: string): Promise<void> {
  const q = db.db();
  await q
    .deleteFrom("oauth_replay")
    .where("key", "in", q.selectFrom("oauth_replay").select("key").where("expires_at", "<=", nowIso).limit(CLEANUP_BATCH))
    .execute();
}
