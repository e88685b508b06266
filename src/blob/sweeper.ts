import { takeTurn } from "@/cache/turn";
import type { CachePlugin } from "@/contracts/cache";
import type { Logger } from "@/log";
import type { BlobService } from "./service";

/** Temporary blobs no committed record claimed within this long are removed. */
export const TEMP_BLOB_TTL_MS = 60 * 60 * 1000;
/** Rows handled per sweep round; a sweep runs rounds until none are left or `maxRounds` is reached. */
const ROUND = 500;

/**
 * Remove temporary blobs older than `olderThanMs`: first those with a row
 * (uploaded, never referenced; handled per DID under the repo lock so a commit
 * claiming one at the same moment either wins or sees it gone), then stray
 * temp files without a row (uploads cut off before their row was written).
 */
export async function sweepTempBlobs(
  blobs: BlobService,
  olderThanMs = TEMP_BLOB_TTL_MS,
  maxRounds = 20,
): Promise<{ rows: number; files: number }> {
  const cutoff = new Date(Date.now() - olderThanMs).toISOString();
  let rows = 0;
  for (let round = 0; round < maxRounds; round++) {
    const stale = await blobs.db
      .db()
      .selectFrom("blob")
      .select(["did", "cid"])
      .where("temp_key", "is not", null)
      .where("created_at", "<", cutoff)
      .orderBy("created_at")
      .limit(ROUND)
      .execute();
    if (stale.length === 0) break;
    const byDid = new Map<string, string[]>();
    for (const { did, cid } of stale) byDid.set(did, [...(byDid.get(did) ?? []), cid]);
    for (const [did, cids] of byDid) {
      const keys = await blobs.db.withRepoLock(did, async (tx) => {
        const gone = await tx
          .deleteFrom("blob")
          .where("did", "=", did)
          .where("cid", "in", cids)
          .where("temp_key", "is not", null)
          .where("created_at", "<", cutoff)
          .returning(["cid", "temp_key"])
          .execute();
        // A commit that claimed the blob and then rolled back left its bytes under the permanent name
        // (the store is not transactional); no committed record refers to a row still temporary.
        if (gone.length > 0) await blobs.store.delete(did, gone.map((r) => r.cid));
        return gone.map((r) => r.temp_key).filter((k): k is string => k !== null);
      });
      for (const key of keys) await blobs.store.deleteTemp(key);
      rows += keys.length;
    }
    if (stale.length < ROUND) break;
  }
  const files = await blobs.store.sweepTemp(olderThanMs);
  return { rows, files };
}

/**
 * Sweep every `intervalMs` (first run after one interval) until the returned
 * function is called. With several nodes sharing a cache, one node sweeps per
 * interval, not every node.
 */
export function startSweeper(
  blobs: BlobService,
  cache: CachePlugin,
  log: Logger,
  intervalMs = 10 * 60 * 1000,
  olderThanMs = TEMP_BLOB_TTL_MS,
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    // A little under the interval, so the next interval's turn is free again on every node.
    if (!(await takeTurn(cache, "blob-sweep", Math.max(1, Math.floor(intervalMs / 1000) - 1)))) {
      running = false;
      return;
    }
    sweepTempBlobs(blobs, olderThanMs)
      .then((swept) => {
        if (swept.rows > 0 || swept.files > 0) log.info("temporary blobs swept", swept);
      })
      .catch((err) => log.warn("blob sweep failed", { err }))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  // The sweeper alone never keeps the process alive.
  timer.unref?.();
  return () => clearInterval(timer);
}

/**
 * The sweeper's interval and age limit. AURORA_TEST_BLOB_SWEEP="<intervalMs>:<olderThanMs>"
 * shortens both, for the fault suite (test/faults), which must see the sweep
 * run within a test; operators have no reason to set it.
 */
export function sweeperTiming(env: Record<string, string | undefined> = process.env): { intervalMs: number; olderThanMs: number } {
  const raw = env.AURORA_TEST_BLOB_SWEEP;
  if (!raw) return { intervalMs: 10 * 60 * 1000, olderThanMs: TEMP_BLOB_TTL_MS };
  const [interval, age] = raw.split(":").map(Number);
  if (!Number.isInteger(interval) || !Number.isInteger(age) || interval! < 1000 || age! < 1000) {
    throw new Error(`AURORA_TEST_BLOB_SWEEP must be "<intervalMs>:<olderThanMs>", both integers of at least 1000, not ${JSON.stringify(raw)}`);
  }
  return { intervalMs: interval!, olderThanMs: age! };
}
