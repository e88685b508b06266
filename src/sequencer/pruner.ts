import { takeTurn } from "@/cache/turn";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { Logger } from "@/log";

/** Rows deleted per statement: keeps each delete short so writers taking the seq lock never wait long. */
const BATCH = 5000;

/**
 * Delete events sequenced before `before`, in batches, always keeping the
 * newest event: the firehose takes its head seq from the table, and a table
 * left empty would make every consumer's cursor look like it came from the
 * future. Seqs are never reused (identity / AUTOINCREMENT), so pruning never
 * renumbers anything. Returns how many rows went.
 */
export async function pruneEvents(db: DatabasePlugin, before: Date, maxBatches = 100): Promise<number> {
  const edge = before.toISOString();
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const result = await db
      .db()
      .deleteFrom("repo_seq")
      .where("seq", "in", (q) =>
        q
          .selectFrom("repo_seq")
          .select("seq")
          .where("sequenced_at", "<", edge)
          .where("seq", "<", (max) => max.selectFrom("repo_seq").select((e) => e.fn.max("seq").as("seq")))
          .orderBy("seq")
          .limit(BATCH),
      )
      .executeTakeFirst();
    const n = Number(result.numDeletedRows);
    deleted += n;
    if (n < BATCH) break;
  }
  return deleted;
}

/**
 * Prune events older than the backfill window every `intervalMs`, one node
 * per interval across the cluster. A cursor older than the window already
 * gets OutdatedCursor and starts at the window's edge, so nothing a consumer
 * could still ask for is removed.
 */
export function startEventPruner(opts: {
  db: DatabasePlugin;
  cache: CachePlugin;
  backfillHours: number;
  log: Logger;
  intervalMs?: number;
}): () => void {
  const intervalMs = opts.intervalMs ?? 10 * 60 * 1000;
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      if (!(await takeTurn(opts.cache, "event-prune", Math.max(1, Math.floor(intervalMs / 1000) - 1)))) return;
      const deleted = await pruneEvents(opts.db, new Date(Date.now() - opts.backfillHours * 3_600_000));
      if (deleted > 0) opts.log.info("events older than the backfill window pruned", { deleted });
    } catch (err) {
      opts.log.warn("event pruning failed", { err });
    } finally {
      running = false;
    }
  }, intervalMs);
  // Pruning alone never keeps the process alive.
  timer.unref?.();
  return () => clearInterval(timer);
}
