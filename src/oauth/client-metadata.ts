import { type OAuthClientMetadata, isLoopbackHost, oauthClientMetadataSchema } from "@atproto/oauth-types";
import { OAuthError } from "./errors";

/**
 * The JWS algorithms we accept for `private_key_jwt` client assertions (all
 * that jose verifies with asymmetric keys). The server metadata's
 * `token_endpoint_auth_signing_alg_values_supported` should list these.
 */
export const CLIENT_ASSERTION_ALGS = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"] as const;

/** A client that cannot be used: 400 invalid_client, as `ClientRegistry.get` promises. */
export const badClient = (description: string) => new OAuthError(400, "invalid_client", description);

/** The first few zod issues as one readable sentence (the path says which field). */
export function describeIssues(issues: readonly { path: (string | number)[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/**
 * Parses and checks a client metadata document against the atproto OAuth
 * profile (atproto.com/specs/oauth, "Clients"): DPoP-bound tokens, the
 * `atproto` scope, the code flow only, `none` or `private_key_jwt` auth, and
 * redirect URIs that fit the application type and belong to the client.
 * `clientId` is the URL the document came from (or the loopback id it was
 * built from); `discoverable` says which rules for redirect URIs apply.
 * Throws `badClient` naming the first broken rule.
 */
export function validateClientMetadata(clientId: string, raw: unknown, discoverable: boolean): OAuthClientMetadata {
  const parsed = oauthClientMetadataSchema.safeParse(raw);
  if (!parsed.success) throw badClient(`invalid client metadata: ${describeIssues(parsed.error.issues)}`);
  const md = parsed.data;

  if (md.client_id !== clientId) throw badClient(`client metadata client_id ${JSON.stringify(md.client_id ?? null)} does not match ${clientId}`);
  if (md.dpop_bound_access_tokens !== true) throw badClient('client metadata must set "dpop_bound_access_tokens" to true');

  const scopes = (md.scope ?? "").split(" ").filter(Boolean);
  if (!scopes.includes("atproto")) throw badClient('client metadata scope must include "atproto"');
  if (new Set(scopes).size !== scopes.length) throw badClient("client metadata scope lists a scope twice");

  if (!md.response_types.includes("code")) throw badClient('client metadata response_types must include "code"');
  const badResponse = md.response_types.find((t) => t !== "code");
  if (badResponse) throw badClient(`response type "${badResponse}" is not supported (code flow only)`);
  if (!md.grant_types.includes("authorization_code")) throw badClient('client metadata grant_types must include "authorization_code"');
  const badGrant = md.grant_types.find((g) => g !== "authorization_code" && g !== "refresh_token");
  if (badGrant) throw badClient(`grant type "${badGrant}" is not supported`);

  checkAuthMethod(md);
  checkDisplayUris(clientId, md, discoverable);
  for (const uri of md.redirect_uris) checkRedirectUri(clientId, uri, md.application_type, discoverable);
  return md;
}

function checkAuthMethod(md: OAuthClientMetadata): void {
  const method = md.token_endpoint_auth_method;
  if (method === "none") {
    if (md.token_endpoint_auth_signing_alg) throw badClient('token_endpoint_auth_method "none" takes no token_endpoint_auth_signing_alg');
    return;
  }
  if (method !== "private_key_jwt") {
    throw badClient(`token_endpoint_auth_method "${method}" is not supported: use "none" or "private_key_jwt"`);
  }
  // RFC 8252 §8.4: native apps are public clients (the reference provider refuses the mix too).
  if (md.application_type === "native") throw badClient('native clients must use token_endpoint_auth_method "none"');
  const alg = md.token_endpoint_auth_signing_alg;
  if (!alg) throw badClient("private_key_jwt needs token_endpoint_auth_signing_alg");
  if (!(CLIENT_ASSERTION_ALGS as readonly string[]).includes(alg)) {
    throw badClient(`token_endpoint_auth_signing_alg "${alg}" is not supported (one of ${CLIENT_ASSERTION_ALGS.join(", ")})`);
  }
  if (md.jwks && md.jwks_uri) throw badClient("client metadata must have jwks or jwks_uri, not both");
  if (!md.jwks && !md.jwks_uri) throw badClient("private_key_jwt needs jwks or jwks_uri");
  if (md.jwks && md.jwks.keys.length === 0) throw badClient("client jwks has no keys");
}

/** client_uri on the client_id's hostname; logo, terms and policy over https only (spec, "Client ID Metadata Document"). */
function checkDisplayUris(clientId: string, md: OAuthClientMetadata, discoverable: boolean): void {
  if (md.client_uri) {
    if (!discoverable) throw badClient("loopback clients cannot have a client_uri");
    if (new URL(md.client_uri).hostname !== new URL(clientId).hostname) {
      throw badClient("client_uri must have the same hostname as client_id");
    }
  }
  for (const field of ["logo_uri", "tos_uri", "policy_uri"] as const) {
    const uri = md[field];
    if (uri && !uri.startsWith("https://")) throw badClient(`${field} must be an https: URL`);
  }
}

/** A loopback IP literal (127.0.0.1 or [::1]), the only loopback hosts a redirect URI may name (RFC 8252 §8.3). */
export function isLoopbackIp(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "[::1]";
}

/**
 * One registered redirect URI, by the spec's "Request Fields" rules:
 * - web: https, same origin as the client_id;
 * - native: that too, or a private-use scheme that is the client_id's hostname
 *   reversed followed by `:/path`, or a loopback IP over http (RFC 8252 §7.3);
 * - loopback (development) clients: loopback IPs over http only.
 */
function checkRedirectUri(clientId: string, uri: string, applicationType: "web" | "native", discoverable: boolean): void {
  const url = new URL(uri);
  if (url.username || url.password) throw badClient(`redirect URI ${uri} must not contain credentials`);
  if (url.hostname === "localhost") throw badClient(`redirect URI ${uri}: use a loopback IP (127.0.0.1 or [::1]), not "localhost"`);

  if (url.protocol === "http:") {
    if (!isLoopbackIp(url.hostname)) throw badClient(`redirect URI ${uri}: http is allowed for loopback IPs only`);
    if (applicationType !== "native") throw badClient(`redirect URI ${uri}: loopback redirect URIs are for native clients only`);
    return;
  }
  if (!discoverable) throw badClient(`redirect URI ${uri}: loopback clients must use http://127.0.0.1 or http://[::1] redirect URIs`);

  const clientUrl = new URL(clientId);
  if (url.protocol === "https:") {
    if (isLoopbackHost(url.hostname) || url.origin !== clientUrl.origin) {
      throw badClient(`redirect URI ${uri} must have the same origin as client_id (${clientUrl.origin})`);
    }
    return;
  }
  if (applicationType !== "native") throw badClient(`redirect URI ${uri}: web clients must use https redirect URIs`);
  const scheme = url.protocol.slice(0, -1);
  const expected = clientUrl.hostname.split(".").reverse().join(".");
  if (scheme !== expected) throw badClient(`redirect URI ${uri}: a custom scheme must be the client_id hostname reversed ("${expected}:")`);
  if (!/^[^:]+:\/(?!\/)/.test(uri)) throw badClient(`redirect URI ${uri} must have the form ${expected}:/path`);
}
