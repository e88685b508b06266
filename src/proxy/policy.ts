import { PRIVILEGED_METHODS, PROTECTED_METHODS } from "@/auth/service-auth-rules";
import type { AccountStatusRule, AuthMode, Caller } from "@/auth/types";
import { InvalidRequestError } from "@/errors";

// The reference's PROTECTED_METHODS / PRIVILEGED_METHODS (shared with getServiceAuth) compare case-insensitively;
// so do the namespace checks here: a method's authority part is a domain.
const lower = (nsid: string) => nsid.toLowerCase();

/**
 * Methods Aurora serves that still go upstream when the atproto-proxy header
 * names another service than the configured AppView (the reference proxies
 * preferences to the AppView the client chose). Every other method Aurora
 * serves is never proxied, header or not.
 */
export const PROXIED_WHEN_NAMED: ReadonlySet<string> = new Set(["app.bsky.actor.getPreferences", "app.bsky.actor.putPreferences"]);

/**
 * Never proxied: account management that must be called on the PDS itself
 * (the reference's PROTECTED_METHODS), and the whole admin namespace (the
 * admin's credentials are ours; nothing upstream acts on them).
 */
export const isRefused = (nsid: string) => PROTECTED_METHODS.has(nsid) || lower(nsid).startsWith("com.atproto.admin.");

/**
 * 400 InvalidToken "Bad token method", as the reference answers, for what an
 * account token may not reach upstream: refused methods, and for an app
 * password without the privileged scope the privileged ones (createAccount,
 * and all of chat.bsky.*, not only the reference's list of chat methods).
 */
export function assertAllowed(nsid: string, caller: Caller | null): void {
  if (isRefused(nsid)) throw new InvalidRequestError("Bad token method", "InvalidToken");
  const privileged = PRIVILEGED_METHODS.has(nsid) || lower(nsid).startsWith("chat.bsky.");
  if (privileged && caller?.kind === "appPass") throw new InvalidRequestError("Bad token method", "InvalidToken");
}

/**
 * What the request path verifies before `forward`: an access token (full
 * session or app password; the service-auth token needs an account to speak
 * for), of an account that is active or deactivated (the reference keeps a
 * deactivated account's access scope); createReport also from a taken-down
 * account, which may still appeal. Refused methods ask for nothing, so they
 * are answered 400 before credentials are looked at, as in the reference.
 */
export function authOf(nsid: string): { mode: AuthMode; accountStatus: AccountStatusRule } {
  if (isRefused(nsid)) return { mode: "none", accountStatus: "any" };
  if (nsid === "com.atproto.moderation.createReport") return { mode: "access", accountStatus: "any" };
  return { mode: "access", accountStatus: "deactivated-ok" };
}

/** The metric label of a service id: the well-known ones by name, anything a header invents is "other". */
const SERVICE_LABELS: Readonly<Record<string, string>> = {
  bsky_appview: "appview",
  bsky_chat: "chat",
  atproto_labeler: "labeler",
  bsky_notif: "notif",
  bsky_fg: "feedgen",
};
export const serviceLabel = (serviceId: string) => SERVICE_LABELS[serviceId] ?? "other";
