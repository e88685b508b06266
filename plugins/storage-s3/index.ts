import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { type BlobStorePlugin, PluginError, REDACTED, redactUrl } from "@/plugin-kit";
import { describeSdkError } from "./errors";
import { S3Keys, normalisePrefix } from "./keys";
import { s3BlobOps } from "./store";

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
  /** Key prefix for every object, for a bucket shared with other data, e.g. "pds/". @default "" */
  prefix?: string;
  /** Attempts per request, first try included; retries back off exponentially with jitter. @default 3 */
  maxAttempts?: number;
  /** SDK retry strategy: "standard", or "adaptive" to also slow down when throttled. @default "standard" */
  retryMode?: "standard" | "adaptive";
  /** Give up connecting after this long, so an unreachable endpoint fails fast (503). @default 5000 */
  connectTimeoutMs?: number;
  /** Abort a request whose socket stays idle this long. @default 30000 */
  idleTimeoutMs?: number;
}

/** Blobs in an S3-compatible bucket: shared by every node. Layout in ./keys.ts. */
export function s3(options: S3Options): BlobStorePlugin {
  const name = "storage-s3";
  const keys = new S3Keys(normalisePrefix(options.prefix));
  const settings = {
    region: options.region ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    checksums: options.checksums ?? "when_supported",
    maxAttempts: options.maxAttempts ?? 3,
    retryMode: options.retryMode ?? "standard",
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
  };
  let client: S3Client | undefined;

  const current = () => {
    if (!client) throw new PluginError(name, "not initialised", { unavailable: true });
    return client;
  };
  const headBucket = async () => {
    try {
      await current().send(new HeadBucketCommand({ Bucket: options.bucket }));
    } catch (cause) {
      if (cause instanceof PluginError) throw cause;
      // Whatever the reason (down, wrong credentials, no bucket), blobs cannot be served.
      throw new PluginError(name, `bucket ${options.bucket} unreachable: ${describeSdkError(cause)}`, {
        cause,
        unavailable: true,
      });
    }
  };

  return {
    kind: "blobs",
    name,
    shared: true,
    capabilities: { ranges: true },
    async init() {
      const checksum = settings.checksums === "when_required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED";
      client = new S3Client({
        region: settings.region,
        endpoint: options.endpoint,
        forcePathStyle: settings.forcePathStyle,
        requestChecksumCalculation: checksum,
        responseChecksumValidation: checksum,
        maxAttempts: settings.maxAttempts,
        retryMode: settings.retryMode,
        requestHandler: { connectionTimeout: settings.connectTimeoutMs, requestTimeout: settings.idleTimeoutMs },
        ...(options.accessKeyId && options.secretAccessKey
          ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
          : {}),
      });
      await headBucket();
    },
    health: headBucket,
    ...s3BlobOps(name, options.bucket, keys, current),
    describe: () => ({
      bucket: options.bucket,
      endpoint: options.endpoint && redactUrl(options.endpoint),
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey ? REDACTED : undefined,
      prefix: options.prefix ?? "",
      ...settings,
    }),
    async close() {
      client?.destroy();
      client = undefined;
    },
  };
}
