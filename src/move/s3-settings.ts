import { S3Client } from "@aws-sdk/client-s3";
import { MoveError } from "./errors";

/**
 * Where an S3 backup lives and how to reach it: `s3://bucket/prefix` from
 * the command line, the connection from the environment.
 *
 * Each setting is read from AURORA_BACKUP_S3_<X> and, when that is unset,
 * from the storage-s3 plugin's PDS_BLOBSTORE_S3_<X> (an operator whose blobs
 * are already in S3 has set those): ENDPOINT, REGION, ACCESS_KEY_ID,
 * SECRET_ACCESS_KEY, FORCE_PATH_STYLE, CHECKSUMS. `--s3-endpoint` beats
 * both for the endpoint. Without keys the SDK's own chain is used
 * (AWS_ACCESS_KEY_ID / AWS_PROFILE / an instance role).
 */
export interface S3BackupSettings {
  bucket: string;
  /** Key prefix without leading or trailing "/" ("" for the bucket's root). */
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  checksums: "when_supported" | "when_required";
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** An `s3://bucket/prefix[/snapshots/NAME]` address, split. */
export interface S3Address {
  bucket: string;
  prefix: string;
  /** The snapshot named by a `/snapshots/NAME` tail. */
  snapshot?: string;
}

/** Whether `spec` is an s3:// address rather than a directory. */
export function isS3Url(spec: string): boolean {
  return /^s3:\/\//i.test(spec);
}

/** Parse `s3://bucket/prefix[/snapshots/NAME]`; a malformed address is a MoveError. */
export function parseS3Url(spec: string): S3Address {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(spec);
  const bucket = match?.[1];
  if (!match || !bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new MoveError(`${spec}: not an s3://bucket/prefix address (bucket names are 3-63 lower-case letters, digits, "." and "-")`);
  }
  const parts = (match[2] ?? "").split("/").filter((p) => p !== "");
  if (parts.some((p) => p === "." || p === "..")) throw new MoveError(`${spec}: "." and ".." are not allowed in the prefix`);
  const at = parts.length - 2;
  if (at >= 0 && parts[at] === "snapshots") return { bucket, prefix: parts.slice(0, at).join("/"), snapshot: parts[at + 1] };
  return { bucket, prefix: parts.join("/") };
}

/** The address of `prefix` (and a key under it) in `bucket`, for messages. */
export function s3Url(bucket: string, prefix: string, key = ""): string {
  return `s3://${bucket}/${[prefix, key].filter((p) => p !== "").join("/")}`;
}

/** Settings for `address` from `env` (see S3BackupSettings) and the `--s3-endpoint` flag. */
export function s3Settings(address: S3Address, env: Record<string, string | undefined>, endpointFlag?: string): S3BackupSettings {
  const read = (name: string) => {
    for (const family of ["AURORA_BACKUP_S3_", "PDS_BLOBSTORE_S3_"]) {
      const value = env[family + name]?.trim();
      if (value) return value;
    }
    return undefined;
  };
  const endpoint = endpointFlag ?? read("ENDPOINT");
  const pathStyle = read("FORCE_PATH_STYLE");
  const checksums = read("CHECKSUMS") ?? "when_supported";
  if (checksums !== "when_supported" && checksums !== "when_required") {
    throw new MoveError(`AURORA_BACKUP_S3_CHECKSUMS=${checksums}: use when_supported or when_required`);
  }
  const accessKeyId = read("ACCESS_KEY_ID");
  const secretAccessKey = read("SECRET_ACCESS_KEY");
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new MoveError("S3 backup credentials: set both AURORA_BACKUP_S3_ACCESS_KEY_ID and AURORA_BACKUP_S3_SECRET_ACCESS_KEY, or neither");
  }
  return {
    bucket: address.bucket,
    prefix: address.prefix,
    endpoint,
    region: read("REGION") ?? env.AWS_REGION ?? "us-east-1",
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : /^(1|true|yes|on)$/i.test(pathStyle),
    checksums,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  };
}

/** An SDK client for `settings`, built the way the storage-s3 plugin builds its own. */
export function s3BackupClient(settings: S3BackupSettings): S3Client {
  const checksum = settings.checksums === "when_required" ? "WHEN_REQUIRED" : "WHEN_SUPPORTED";
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5000, requestTimeout: 60_000 },
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
}
