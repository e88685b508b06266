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
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > MAX_BODY_BYTES) throw invalidRequest("Request body too large");
  const text = new TextDecoder().decode(await readBounded(request));
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

/** The body, refused once it passes MAX_BODY_BYTES: a body without a length (chunked) is never read past the limit. */
async function readBounded(request: Request): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw invalidRequest("Request body too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
