import { Counter, Gauge, type Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";

/** The database's total is re-read at most this often, whatever the scrape rate and upload activity. */
export const STORAGE_REFRESH_MS = 60_000;

export interface BlobMetrics {
  /** One upload finished; `storedBytes` is what it added to storage (0 when the blob was already stored). */
  uploaded(storedBytes: number): void;
}

/**
 * The Scalability Guide's blob metrics, labelled with the blob plugin's name:
 * `aurora_blob_uploads_total` counts uploads on this node;
 * `aurora_blob_storage_bytes` is the size of every blob the database knows
 * (all nodes). A full `sum(size)` per scrape would scan the whole blob table
 * every 15 s on every node, so the sum is read at most once per
 * STORAGE_REFRESH_MS (concurrent scrapes share the read) and this node's
 * uploads since then are added on top. Deletions, and other nodes' uploads,
 * show at the next read.
 */
export function createBlobMetrics(db: DatabasePlugin, backend: string, registry: Registry): BlobMetrics {
  const uploads = new Counter({
    name: "aurora_blob_uploads_total",
    help: "Blob uploads accepted, by blob storage backend",
    labelNames: ["backend"],
    registers: [registry],
  });
  let total: number | null = null;
  /** Bytes this node's uploads added since `total` was read. */
  let added = 0;
  let readAt = 0;
  let reading: Promise<void> | undefined;
  const read = async () => {
    const before = added;
    try {
      const row = await db.db().selectFrom("blob").select((eb) => eb.fn.sum<number | string>("size").as("bytes")).executeTakeFirst();
      total = Number(row?.bytes ?? 0);
      added -= before;
    } catch {
      // An unreachable database must not break /metrics: keep the last value, try again next interval.
    }
    readAt = Date.now();
  };
  new Gauge({
    name: "aurora_blob_storage_bytes",
    help: "Bytes of blobs stored (temporary and permanent), by blob storage backend",
    labelNames: ["backend"],
    registers: [registry],
    async collect() {
      if (total === null || Date.now() - readAt >= STORAGE_REFRESH_MS) {
        reading ??= read().finally(() => {
          reading = undefined;
        });
        await reading;
      }
      this.set({ backend }, (total ?? 0) + added);
    },
  });
  uploads.inc({ backend }, 0);
  return {
    uploaded(storedBytes) {
      uploads.inc({ backend });
      added += storedBytes;
    },
  };
}
