import type { DatabasePlugin } from "@/contracts/db";

/**
 * How far the upstream is behind the viewer's repository: the age of the
 * oldest of their records it has not seen (written after `upstreamRev`),
 * sent as `atproto-upstream-lag` with a merged view, as the reference does.
 */
export async function upstreamLagMs(db: DatabasePlugin, did: string, upstreamRev: string): Promise<number | undefined> {
  const row = await db
    .db()
    .selectFrom("record")
    .select((eb) => eb.fn.min("indexed_at").as("oldest"))
    .where("did", "=", did)
    .where("rev", ">", upstreamRev)
    .executeTakeFirst();
  const oldest = row?.oldest ? Date.parse(String(row.oldest)) : NaN;
  return Number.isNaN(oldest) ? undefined : Math.max(0, Date.now() - oldest);
}
