import { Counter, Gauge, type Registry } from "prom-client";
import type { DatabasePlugin } from "@/contracts/db";

/** Re-read the stored total at most this often; a local change re-reads at the next scrape. */
const STORAGE_REFRESH_MS = 60_000;

export interface BlobMetrics {
  /** One upload finished. */
  uploaded(): void;
  /** Blobs were removed: re-read the total at the next scrape. */
  changed(): void;
}

/**
 * The Scalability Guide's blob metrics, labelled with the blob plugin's name:
 * `aurora_blob_uploads_total` counts uploads on this node;
 * `aurora_blob_storage_bytes` is the size of every blob the database knows
 * (all nodes), read from the database when scraped.
 */
export function createBlobMetrics(db: DatabasePlugin, backend: string, registry: Registry): BlobMetrics {
  const uploads = new Counter({
    name: "aurora_blob_uploads_total",
    help: "Blob uploads accepted, by blob storage backend",
    labelNames: ["backend"],
    registers: [registry],
  });
  let total: number | null = null;
  let readAt = 0;
  new Gauge({
    name: "aurora_blob_storage_bytes",
    help: "Bytes of blobs stored (temporary and permanent), by blob storage backend",
    labelNames: ["backend"],
    registers: [registry],
    async collect() {
      if (total === null || Date.now() - readAt > STORAGE_REFRESH_MS) {
        try {
          const row = await db.db().selectFrom("blob").select((eb) => eb.fn.sum<number | string>("size").as("bytes")).executeTakeFirst();
          total = Number(row?.bytes ?? 0);
          readAt = Date.now();
        } catch {
          // An unreachable database must not break /metrics: keep the last value.
        }
      }
      this.set({ backend }, total ?? 0);
    },
  });
  uploads.inc({ backend }, 0);
  return {
    uploaded() {
      uploads.inc({ backend });
      total = null;
    },
    changed() {
      total = null;
    },
  };
}
