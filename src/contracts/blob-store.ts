import type { Plugin } from "./plugin";

/** Blob storage backend (plugins/storage-disk, plugins/storage-s3). */
export interface BlobStorePlugin extends Plugin<"blobs"> {
  /** Blobs are visible to every node (object storage), not only this one. */
  readonly shared: boolean;
}
