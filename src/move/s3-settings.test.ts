import { describe, expect, test } from "bun:test";
import { MoveError } from "./errors";
import { parseS3Url, s3Settings } from "./s3-settings";

describe("parseS3Url", () => {
  test.each([
    ["s3://my-bucket", { bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/", { bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/aurora/prod/", { bucket: "my-bucket", prefix: "aurora/prod" }],
    ["s3://my-bucket/aurora//prod", { bucket: "my-bucket", prefix: "aurora/prod" }],
    ["s3://my-bucket/aurora/snapshots/2026-01-01T03-17-00Z", { bucket: "my-bucket", prefix: "aurora", snapshot: "2026-01-01T03-17-00Z" }],
    ["s3://my-bucket/snapshots/pre-restore-2026-01-01T03-17-00Z", { bucket: "my-bucket", prefix: "", snapshot: "pre-restore-2026-01-01T03-17-00Z" }],
  ])("%s", (url, expected) => {
    expect(parseS3Url(url)).toEqual(expected);
  });

  test.each(["s3://", "s3://Upper/x", "s3://b/x", "s3://bucket/a/../b"])("%s is refused", (url) => {
    expect(() => parseS3Url(url)).toThrow(MoveError);
  });
});

describe("s3Settings", () => {
  const address = { bucket: "backups", prefix: "pds" };

  test("AURORA_BACKUP_S3_* first, then the storage-s3 plugin's PDS_BLOBSTORE_S3_*, setting by setting", () => {
    const settings = s3Settings(address, {
      AURORA_BACKUP_S3_ENDPOINT: "http://minio:9000",
      PDS_BLOBSTORE_S3_ENDPOINT: "http://other:9000",
      PDS_BLOBSTORE_S3_REGION: "eu-west-1",
      PDS_BLOBSTORE_S3_ACCESS_KEY_ID: "AKIA",
      PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY: "secret",
      AURORA_BACKUP_S3_CHECKSUMS: "when_required",
    });
    expect(settings).toEqual({
      bucket: "backups",
      prefix: "pds",
      endpoint: "http://minio:9000",
      region: "eu-west-1",
      forcePathStyle: true,
      checksums: "when_required",
      credentials: { accessKeyId: "AKIA", secretAccessKey: "secret" },
    });
  });

  test("--s3-endpoint beats the environment; no endpoint means AWS, virtual-hosted, the SDK's credential chain", () => {
    expect(s3Settings(address, { AURORA_BACKUP_S3_ENDPOINT: "http://a:1" }, "http://b:2").endpoint).toBe("http://b:2");
    expect(s3Settings(address, { AWS_REGION: "us-west-2" })).toEqual({
      bucket: "backups",
      prefix: "pds",
      endpoint: undefined,
      region: "us-west-2",
      forcePathStyle: false,
      checksums: "when_supported",
      credentials: undefined,
    });
  });

  test("half a key pair and an unknown checksum mode are refused", () => {
    expect(() => s3Settings(address, { AURORA_BACKUP_S3_ACCESS_KEY_ID: "AKIA" })).toThrow("set both");
    expect(() => s3Settings(address, { AURORA_BACKUP_S3_CHECKSUMS: "always" })).toThrow("when_supported or when_required");
  });
});
