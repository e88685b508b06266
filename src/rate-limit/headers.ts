import { RateLimitExceededError } from "@/errors";
import type { LimitStatus } from "./types";

const MESSAGE = "Rate Limit Exceeded";

/**
 * The headers the reference PDS sends: RateLimit-Limit, -Remaining,
 * -Reset (Unix time in seconds when the limit is whole again) and -Policy
 * (`<limit>;w=<window seconds>`), plus Retry-After (seconds) on a refusal.
 */
export function setRateLimitHeaders(headers: Headers, status: LimitStatus, nowMs = Date.now()): void {
  headers.set("ratelimit-limit", String(status.limit));
  headers.set("ratelimit-remaining", String(status.remaining));
  headers.set("ratelimit-reset", String(Math.ceil((nowMs + status.resetMs) / 1000)));
  headers.set("ratelimit-policy", `${status.limit};w=${Math.round(status.windowMs / 1000)}`);
  if (!status.allowed) headers.set("retry-after", String(Math.max(1, Math.ceil(status.retryMs / 1000))));
}

/**
 * The one status to report when several limits applied: a refusal beats
 * any pass (the longest wait among refusals); among passes, the fewest
 * points left.
 */
export function tightest(statuses: readonly LimitStatus[]): LimitStatus | undefined {
  let pick: LimitStatus | undefined;
  for (const s of statuses) {
    if (!pick) pick = s;
    else if (s.allowed !== pick.allowed) pick = s.allowed ? pick : s;
    else if (!s.allowed ? s.retryMs > pick.retryMs : s.remaining < pick.remaining) pick = s;
  }
  return pick;
}

/** Thrown by `consumePoints` when a rule refuses; the HTTP layer answers 429 with this status's headers. */
export class RateLimitedError extends RateLimitExceededError {
  constructor(readonly limitStatus: LimitStatus) {
    super(MESSAGE);
  }

  /** The RateLimit-* and Retry-After headers of this refusal. */
  get headers(): Headers {
    const headers = new Headers();
    setRateLimitHeaders(headers, this.limitStatus);
    return headers;
  }
}

/** The 429 for a request refused before its handler ran. */
export function refusal(status: LimitStatus): Response {
  const response = new Response(JSON.stringify({ error: "RateLimitExceeded", message: MESSAGE }), { status: 429 });
  response.headers.set("content-type", "application/json; charset=utf-8");
  setRateLimitHeaders(response.headers, status);
  return response;
}

/** Sets the tightest status's headers on `response` (a pass-through fetch() response may be immutable: then none). */
export function decorate(response: Response, statuses: readonly LimitStatus[]): void {
  const status = tightest(statuses);
  if (!status) return;
  try {
    setRateLimitHeaders(response.headers, status);
  } catch {
    // Immutable headers: the limit still applied, only the hint is missing.
  }
}
