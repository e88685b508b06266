import type { AccountStatusRule } from "./types";

/**
 * The methods that serve accounts which are not active, by NSID (every other
 * token-authenticated method serves active accounts only). Follows the
 * reference PDS: writes need an active account; what moving an account here
 * needs works while it is still deactivated; a taken-down account can still
 * see and end its own session and read its own data.
 *
 * Until XrpcMethod carries this as a field that dispatch passes to
 * `verify`, the verifier looks the rule up here by the request's path.
 */
const RULES: Readonly<Record<string, AccountStatusRule>> = {
  "com.atproto.identity.getRecommendedDidCredentials": "any",
  "com.atproto.identity.updateHandle": "deactivated-ok",
  "com.atproto.repo.uploadBlob": "deactivated-ok",
  "com.atproto.server.createAppPassword": "deactivated-ok",
  "com.atproto.server.getAccountInviteCodes": "deactivated-ok",
  "com.atproto.server.refreshSession": "deactivated-ok",
  "com.atproto.server.deleteSession": "any",
  "com.atproto.server.getSession": "any",
  "com.atproto.server.listAppPasswords": "any",
  "com.atproto.server.revokeAppPassword": "any",
};

const XRPC_PREFIX = "/xrpc/";

/** The rule of the method a request's path names; undefined for methods with the default. */
export function statusRuleOf(request: Request): AccountStatusRule | undefined {
  const { pathname } = new URL(request.url);
  return pathname.startsWith(XRPC_PREFIX) ? RULES[pathname.slice(XRPC_PREFIX.length)] : undefined;
}
