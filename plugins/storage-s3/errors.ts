import { PluginError } from "@/plugin-kit";

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const THROTTLED = new Set(["SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "TimeoutError"]);

/** The object (not the bucket) does not exist. */
export function isMissingObject(err: unknown): boolean {
  const e = err as SdkError;
  if (e?.name === "NoSuchKey" || e?.name === "NotFound") return true;
  return e?.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket";
}

/** S3's answer to a Range that starts past the end. */
export function isInvalidRange(err: unknown): boolean {
  const e = err as SdkError;
  return e?.name === "InvalidRange" || e?.$metadata?.httpStatusCode === 416;
}

/**
 * Wrap an SDK failure (after the SDK's own retries) in a PluginError. No HTTP
 * status means the request never got an answer (refused, reset, timed out):
 * like a 5xx or throttling, the bucket is unavailable and the client gets a
 * 503. Anything else (403, missing bucket) is a configuration fault: a 500
 * with the details in the log.
 */
export function s3Failure(plugin: string, what: string, err: unknown): PluginError {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode;
  const unavailable = status === undefined || status >= 500 || status === 429 || THROTTLED.has(e?.name ?? "");
  return new PluginError(plugin, `${what} failed: ${describeSdkError(err)}`, { cause: err, unavailable });
}

/** "NoSuchBucket 404: The specified bucket does not exist", for messages and logs. */
export function describeSdkError(err: unknown): string {
  const e = err as SdkError;
  const detail = [e?.name, e?.code, e?.$metadata?.httpStatusCode].filter((x) => x !== undefined).join(" ");
  return `${detail || "unknown error"}: ${e?.message ?? String(err)}`;
}
