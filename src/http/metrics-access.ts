import { createHash, timingSafeEqual } from "node:crypto";
import type { ResolvedConfig } from "@/config/resolve";
import { ipMatcher } from "@/rate-limit/client-ip";
import { json } from "./respond";

/**
 * Who may scrape `/metrics`: `null` when `request` from client IP `ip` (as
 * the rate limiter sees it) may, else the answer to send instead.
 */
export type MetricsAccess = (request: Request, ip: string) => Response | null;

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * The check `config.metrics` asks for. With `allowIps`, other addresses get
 * 403 whatever they present; with `token`, a missing or wrong bearer token
 * gets 401 with a `WWW-Authenticate` challenge. Tokens are compared as
 * SHA-256 digests in constant time, so neither their content nor their
 * length leaks through timing. With neither set, anyone may scrape.
 */
export function createMetricsAccess(settings: ResolvedConfig["metrics"]): MetricsAccess {
  const allowed = settings.allowIps.length > 0 ? ipMatcher(settings.allowIps) : () => true;
  const token = settings.token === undefined ? undefined : digest(settings.token);
  return (request, ip) => {
    if (!allowed(ip)) return json({ error: "Forbidden", message: "Metrics are not served to this address" }, 403);
    if (token && !timingSafeEqual(digest(bearer(request) ?? ""), token)) {
      return json({ error: "AuthenticationRequired", message: "Metrics need a bearer token" }, 401, {
        "www-authenticate": 'Bearer realm="metrics"',
      });
    }
    return null;
  };
}

function bearer(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  const match = header === null ? null : /^Bearer +(\S+)\s*$/i.exec(header);
  return match?.[1];
}
