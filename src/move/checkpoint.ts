import type { Db, DbTransaction } from "@/contracts/db";

/**
 * Where a copy stands, kept in the TARGET database's cache_entry table under
 * `aurora:move:<stage>`, written in the same transaction as the rows it
 * covers: after a kill the checkpoint and the copied rows agree, so a resume
 * neither skips nor repeats a page. Removed when the whole move has finished.
 */
export interface Checkpoint {
  /** Key of the last copied row (the keyset position in the SOURCE's order), null before the first page. */
  after: unknown[] | null;
  /** Rows (or blobs) read from the source so far. */
  rows: number;
  /** Bytes copied so far (the blob stage). */
  bytes: number;
  /** The stage has finished. */
  done: boolean;
}

/** Every checkpoint key starts with this; the copy of cache_entry leaves such rows behind. */
export const CHECKPOINT_PREFIX = "aurora:move:";

/** The checkpoints in `db`, by stage. */
export async function readCheckpoints(db: Db): Promise<Map<string, Checkpoint>> {
  const rows = await db.selectFrom("cache_entry").select(["key", "value"]).where("key", "like", `${CHECKPOINT_PREFIX}%`).execute();
  return new Map(rows.map((r) => [r.key.slice(CHECKPOINT_PREFIX.length), JSON.parse(r.value) as Checkpoint]));
}

/** Record where stage `stage` stands, inside the transaction that copied up to there. */
export async function saveCheckpoint(tx: DbTransaction, stage: string, checkpoint: Checkpoint): Promise<void> {
  const value = JSON.stringify(checkpoint);
  await tx
    .insertInto("cache_entry")
    .values({ key: `${CHECKPOINT_PREFIX}${stage}`, value, expires_at: null })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}

/** Drop the checkpoints of `stages`, or all of them: that part of the move, or all of it, is complete. */
export async function clearCheckpoints(db: Db, stages?: readonly string[]): Promise<void> {
  if (stages?.length === 0) return;
  let q = db.deleteFrom("cache_entry").where("key", "like", `${CHECKPOINT_PREFIX}%`);
  if (stages) q = q.where("key", "in", stages.map((s) => `${CHECKPOINT_PREFIX}${s}`));
  await q.execute();
}
