/**
 * Turn a backend failure into the likely cause and the fix, for
 * `aurora doctor`. Matches on error codes and names from postgres.js,
 * ioredis, the AWS SDK and Node's networking, walking the `cause` chain
 * (plugins wrap driver errors in PluginError).
 */
export interface Hint {
  cause: string;
  fix: string;
}

interface Rule {
  test: (e: { code: string; name: string; message: string }) => boolean;
  hint: Hint;
}

const has = (text: string, ...needles: string[]) => needles.some((n) => text.includes(n));

const RULES: Rule[] = [
  {
    test: (e) => has(e.code, "ECONNREFUSED") || has(e.message, "ECONNREFUSED"),
    hint: { cause: "nothing is listening at that host and port", fix: "start the service, or correct the host/port in the URL" },
  },
  {
    test: (e) => has(e.code, "ENOTFOUND", "EAI_AGAIN") || has(e.message, "ENOTFOUND", "getaddrinfo"),
    hint: { cause: "the hostname does not resolve", fix: "check the hostname in the URL and the machine's DNS" },
  },
  {
    test: (e) => has(e.code, "ETIMEDOUT", "CONNECT_TIMEOUT") || has(e.name, "TimeoutError") || has(e.message, "timed out", "timeout"),
    hint: { cause: "the connection timed out", fix: "check firewalls/security groups between this node and the service" },
  },
  {
    test: (e) => e.code === "28P01" || e.code === "28000" || has(e.message, "password authentication failed", "WRONGPASS", "NOAUTH"),
    hint: { cause: "the credentials were refused", fix: "check the user and password in the URL" },
  },
  {
    test: (e) => e.code === "3D000",
    hint: { cause: "the database does not exist", fix: "create it (CREATE DATABASE ...) or fix the database name in DATABASE_URL" },
  },
  {
    // HeadBucket answers a bare 404 (no body, so no NoSuchBucket code) for a missing bucket.
    test: (e) => has(e.name, "NoSuchBucket") || has(e.code, "NoSuchBucket") || /bucket .*(NotFound|\b404\b)/.test(e.message),
    hint: { cause: "the bucket does not exist", fix: "create the bucket or fix PDS_BLOBSTORE_S3_BUCKET" },
  },
  {
    test: (e) => has(e.name, "InvalidAccessKeyId", "SignatureDoesNotMatch", "CredentialsProviderError", "ExpiredToken"),
    hint: { cause: "the S3 credentials were refused", fix: "check PDS_BLOBSTORE_S3_ACCESS_KEY_ID and PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY" },
  },
  {
    test: (e) => has(e.name, "AccessDenied", "Forbidden") || has(e.code, "EACCES", "EPERM", "EROFS"),
    hint: { cause: "permission denied", fix: "grant this user read/write access (bucket policy: Put/Get/Delete/ListBucket; or directory ownership)" },
  },
  {
    test: (e) => has(e.code, "ENOSPC"),
    hint: { cause: "the disk is full", fix: "free space or move PDS_DATA_DIRECTORY / PDS_BLOBSTORE_DISK_LOCATION" },
  },
];

/** The first matching hint along the error's cause chain, if any. */
export function hintFor(err: unknown): Hint | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const fields = {
      code: String((e as { code?: unknown }).code ?? ""),
      name: String((e as { name?: unknown }).name ?? ""),
      message: String((e as { message?: unknown }).message ?? ""),
    };
    const rule = RULES.find((r) => r.test(fields));
    if (rule) return rule.hint;
  }
  return undefined;
}
