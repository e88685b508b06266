import { readBodyLimited } from "@/util/read-body";
import { invalidRequest } from "./errors";

/** The largest body a PAR, token or revocation request may have. */
const MAX_BODY_BYTES = 32 * 1024;

/**
 * The parameters of an authorization-server request: form-encoded as RFC 6749
 * says, or JSON (what @atproto/oauth-client sends). Values must be strings;
 * a repeated form field is refused rather than guessed at.
 */
export async function readParameters(request: Request): Promise<Record<string, string>> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const text = new TextDecoder().decode(await readBodyLimited(request, MAX_BODY_BYTES, () => invalidRequest("Request body too large")));
  if (type === "application/x-www-form-urlencoded") {
    const out: Record<string, string> = {};
    for (const [key, value] of new URLSearchParams(text)) {
      // Own keys only: `in` would also see Object.prototype's (a field named "constructor" or "toString").
      if (Object.hasOwn(out, key)) throw invalidRequest(`Parameter ${key.slice(0, 64)} given twice`);
      out[key] = value;
    }
    return out;
  }
  if (type === "application/json") {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw invalidRequest("Request body is not valid JSON");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidRequest("Request body must be an object");
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) {
      if (value === undefined || value === null) continue;
      if (typeof value !== "string") throw invalidRequest(`Parameter ${key.slice(0, 64)} must be a string`);
      out[key] = value;
    }
    return out;
  }
  throw invalidRequest("Content-Type must be application/x-www-form-urlencoded or application/json");
}
