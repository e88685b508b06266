import { DbError } from "@/db/errors";
import { PluginError, XrpcError } from "@/errors";
import type { Logger } from "@/log";

const JSON_TYPE = "application/json; charset=utf-8";

export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return jsonText(JSON.stringify(body), status, headers);
}

/** A JSON answer whose text is already built (the record reads assemble theirs as UTF-8 from stored blocks). */
export function jsonText(text: string | Uint8Array, status = 200, headers?: Record<string, string>): Response {
  const res = new Response(text, { status, headers });
  res.headers.set("content-type", JSON_TYPE);
  return res;
}

/**
 * The one error mapper: every failure becomes `{ error, message }`. Unknown
 * errors are logged in full and answered with a generic 500, so no stack
 * trace, SQL or path ever reaches a client.
 */
export function errorResponse(err: unknown, log: Logger): Response {
  if (err instanceof XrpcError) return json(err.toJSON(), err.status, err.responseHeaders);
  if (err instanceof PluginError && err.unavailable) {
    log.warn("backend unavailable", { err });
    return json({ error: "ServiceUnavailable", message: "A backend is temporarily unavailable; retry shortly" }, 503, {
      "retry-after": "5",
    });
  }
  if (err instanceof DbError && err.reason === "invalid") {
    // A value the database cannot hold got past validation: the client's input, but worth a look.
    log.warn("database refused a value", { err });
    return json({ error: "InvalidRequest", message: "Invalid input" }, 400);
  }
  log.error("unhandled error", { err });
  return json({ error: "InternalServerError", message: "Internal Server Error" }, 500);
}
