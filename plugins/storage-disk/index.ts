import { access, constants, mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import { PluginError } from "@/errors";

export interface DiskOptions {
  /** Blob directory; relative paths are under the data directory (PDS_BLOBSTORE_DISK_LOCATION). @default "blobs" */
  location?: string;
}

/** Blobs as files on local disk: one node only. */
export function disk(options: DiskOptions = {}): BlobStorePlugin {
  const name = "storage-disk";
  let root: string | undefined;

  return {
    kind: "blobs",
    name,
    shared: false,
    async init(ctx) {
      root = resolve(ctx.dataDir, options.location ?? "blobs");
      try {
        await mkdir(root, { recursive: true });
      } catch (cause) {
        throw new PluginError(name, `cannot create ${root}: ${(cause as Error).message}`, { cause });
      }
    },
    async health() {
      if (!root) throw new PluginError(name, "not initialised", { unavailable: true });
      try {
        await access(root, constants.W_OK);
      } catch (cause) {
        throw new PluginError(name, `${root} is not writable`, { cause, unavailable: true });
      }
    },
    describe: () => ({ location: options.location ?? "blobs" }),
    async close() {},
  };
}
