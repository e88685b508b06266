import type { SeqReader } from "@/sequencer/reader";

/**
 * Where a new subscription starts:
 * - no cursor: live, with events sequenced from now on;
 * - a cursor above the newest seq: FutureCursor (an error; the connection closes);
 * - a cursor whose next event is older than the backfill window: an
 *   OutdatedCursor `#info`, then replay from the window's first event;
 * - otherwise: replay every event after the cursor, then live.
 */
export type Start =
  | { kind: "live" }
  | { kind: "future"; head: number }
  | { kind: "replay"; after: number; outdated: boolean };

export async function resolveCursor(
  reader: SeqReader,
  cursor: number | undefined,
  backfillMs: number,
  now = Date.now(),
): Promise<Start> {
  if (cursor === undefined) return { kind: "live" };
  // The database, not this node's tail: a cursor from another node may be ahead of what this node has read.
  const head = await reader.head();
  if (cursor > head) return { kind: "future", head };
  const next = await reader.firstAfter(cursor);
  const edge = new Date(now - backfillMs).toISOString();
  if (next && next.sequenced_at < edge) {
    const first = await reader.firstSince(edge);
    return { kind: "replay", after: first === undefined ? head : first - 1, outdated: true };
  }
  return { kind: "replay", after: cursor, outdated: false };
}
