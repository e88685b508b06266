import type { Endpoint } from "./endpoint";
import type { Progress } from "./progress";
import { TABLES } from "./tables";

/** Blob rows read per page while wiping. */
const PAGE = 500;

/**
 * Empty `target` for `restore --force` (after its pre-restore backup): the
 * bytes of every blob its blob table names (permanent and temporary, the
 * quarantined copies too), then every row of every table in one
 * transaction. The schema and its migration records stay. Blobs go first: a
 * crash in between leaves rows naming missing blobs, which the restore that
 * follows replaces, rather than orphaned bytes nothing names.
 */
export async function wipeTarget(target: Endpoint, progress: Progress): Promise<void> {
  const db = target.db.db();
  const total = Number((await db.selectFrom("blob").select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow()).n);
  const stage = progress.stage("wipe target blobs", total, "rows");
  let after: { did: string; cid: string } | undefined;
  for (;;) {
    let query = db.selectFrom("blob").select(["did", "cid", "temp_key"]).orderBy("did").orderBy("cid").limit(PAGE);
    if (after) {
      const { did, cid } = after;
      query = query.where((eb) => eb.or([eb("did", ">", did), eb.and([eb("did", "=", did), eb("cid", ">", cid)])]));
    }
    const rows = await query.execute();
    if (rows.length === 0) break;
    const permanent = new Map<string, string[]>();
    for (const row of rows) {
      if (row.temp_key !== null) await target.blobs.deleteTemp(row.temp_key);
      else permanent.set(row.did, [...(permanent.get(row.did) ?? []), row.cid]);
    }
    for (const [did, cids] of permanent) await target.blobs.delete(did, cids);
    stage.advance(rows.length);
    after = rows[rows.length - 1];
  }
  stage.done();
  await target.db.transaction(async (tx) => {
    for (const table of TABLES) await tx.deleteFrom(table.name).execute();
  });
}
