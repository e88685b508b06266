import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import { PluginError } from "@/errors";
import { REDACTED } from "@/config/redact";

export interface S3Options {
  /** Bucket name (PDS_BLOBSTORE_S3_BUCKET). */
  bucket: string;
  /** Region (PDS_BLOBSTORE_S3_REGION). @default "us-east-1" */
  region?: string;
  /** Endpoint for S3-compatible services (PDS_BLOBSTORE_S3_ENDPOINT); unset for AWS. */
  endpoint?: string;
  /** Access key (PDS_BLOBSTORE_S3_ACCESS_KEY_ID); unset to use the SDK's default chain. */
  accessKeyId?: string;
  /** Secret key (PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY). */
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`). @default true when `endpoint` is set */
  forcePathStyle?: boolean;
  /**
   * When the SDK adds request checksums. Some S3-compatible servers store
   * aws-chunked bodies verbatim; "when_required" avoids that.
   * @default "when_supported"
   */
  checksums?: "when_supported" | "when_required";
}

/** Blobs in an S3-compatible bucket: shared by every node. */
export function s3(options: S3Options): BlobStorePlugin {
  const name = "storage-s3";
  let client: S3Client | undefined;

  const headBucket = async () => {
    if (!client) throw new PluginError(name, "not initialised", { unavailable: true });
    try {
      await client.send(new HeadBucketCommand({ Bucket: options.bucket }));
    } catch (cause) {
      throw new PluginError(name, `bucket ${options.bucket} unreachable: ${(cause as Error).name}`, {
        cause,
        unavailable: true,
      });
    }
  };

  return {
    kind: "blobs",
    name,
    shared: true,
    async init() {
      const checksum = options.checksums === "when_required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED";
      client = new S3Client({
        region: options.region ?? "us-east-1",
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
        requestChecksumCalculation: checksum,
        responseChecksumValidation: checksum,
        ...(options.accessKeyId && options.secretAccessKey
          ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
          : {}),
      });
      await headBucket();
    },
    health: headBucket,
    describe: () => ({
      bucket: options.bucket,
      region: options.region ?? "us-east-1",
      endpoint: options.endpoint,
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey ? REDACTED : undefined,
      checksums: options.checksums ?? "when_supported",
    }),
    async close() {
      client?.destroy();
      client = undefined;
    },
  };
}
