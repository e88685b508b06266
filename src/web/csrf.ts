import { createHmac, timingSafeEqual } from "node:crypto";
import { OAuthError } from "@/oauth/errors.ts";
import { readBodyLimited } from "@/util/read-body";

/**
 * The one CSRF defence of our HTML forms, two checks that must both pass:
 * a token bound to something only this browser's flow knows (the device
 * session and the authorization request, say), and the request's origin.
 */

/**
 * The CSRF token for `binding`: HMAC-SHA256 under `secret`, base64url. It is
 * stateless: the page embeds it, the POST handler recomputes and compares.
 */
export function csrfToken(secret: string, binding: string): string {
  return createHmac("sha256", secret).update(`aurora-csrf\0${binding}`).digest("base64url");
}

/**
 * True when the form's `csrf` field is the token for `binding` (compared in
 * constant time) and the request comes from our own origin: `Origin` equals
 * publicUrl's origin, or, when a browser sends no Origin, `Sec-Fetch-Site`
 * says same-origin. Anything else, `Origin: null` included, is refused.
 */
export function checkCsrf(
  request: Request,
  form: URLSearchParams,
  opts: { secret: string; binding: string; publicUrl: string },
): boolean {
  if (!sameOrigin(request, opts.publicUrl)) return false;
  const given = Buffer.from(form.get("csrf") ?? "", "utf8");
  const expected = Buffer.from(csrfToken(opts.secret, opts.binding), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function sameOrigin(request: Request, publicUrl: string): boolean {
  const origin = request.headers.get("origin");
  if (origin !== null) return origin === new URL(publicUrl).origin;
  return request.headers.get("sec-fetch-site") === "same-origin";
}

/**
 * The body of a form POST, read to at most `limit` bytes. Refuses (with an
 * OAuthError: 415, 413) a body that is not application/x-www-form-urlencoded
 * or is larger than the limit, without reading more than the limit.
 */
export async function readForm(request: Request, limit = 16384): Promise<URLSearchParams> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new OAuthError(415, "invalid_request", "Expected an application/x-www-form-urlencoded form");
  }
  const body = await readBodyLimited(request, limit, () => tooLarge(limit));
  return new URLSearchParams(new TextDecoder().decode(body));
}

const tooLarge = (limit: number) => new OAuthError(413, "invalid_request", `Form body larger than ${limit} bytes`);
