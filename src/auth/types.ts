import type { ScopePermissionsTransition } from "@atproto/oauth-scopes";

/**
 * Who may call a method, checked by the XRPC layer before the handler runs:
 * - "none": anyone (the default);
 * - "optional": a valid access token is used when present, never required;
 * - "access": an access token (full session or app password);
 * - "privileged": an access token that is a full session or a privileged app password;
 * - "full": a full session only (not an app password);
 * - "refresh": a refresh token (refreshSession, deleteSession);
 * - "admin": HTTP Basic `admin:<admin password>`;
 * - "service": a service-auth JWT from any issuer (src/auth/service-auth.ts), bound to this method;
 * - "access-or-service": an access token as "access", or a service-auth JWT issued by an account
 *   hosted here (a service acting for the user, e.g. a video service uploading a blob); its
 *   account must pass the method's AccountStatusRule like a token's;
 * - "service-optional": a service-auth JWT is verified when one is sent (createAccount bringing an
 *   existing DID: the token of the account's old PDS, issued by that DID); any other credentials are
 *   ignored, as under "none". No account status is checked: the account need not exist here.
 * - "moderator": the admin's HTTP Basic, or a service-auth JWT bound to this method whose `iss` is
 *   the configured moderation service (`service.modServiceDid`, or its `#atproto_labeler`), as the
 *   reference's com.atproto.admin.* methods accept; without that setting only the admin gets in.
 */
export type AuthMode =
  | "none"
  | "optional"
  | "access"
  | "privileged"
  | "full"
  | "refresh"
  | "admin"
  | "service"
  | "access-or-service"
  | "service-optional"
  | "moderator";

/** What an OAuth access token grants: the client it was issued to and the scopes the user consented to. */
export interface OAuthGrant {
  readonly clientId: string;
  /** The granted scope string, space separated (`atproto transition:generic`, `repo:app.bsky.feed.post?action=create`, ...). */
  readonly scope: string;
  /** The same scopes as permissions to check (transition scopes included). */
  readonly permissions: ScopePermissionsTransition;
}

/**
 * The verified caller. `did` is absent only for the admin; for "service" it is the issuer's DID
 * (under "moderator", the moderation service's).
 */
export interface Caller {
  readonly kind: "access" | "appPass" | "appPassPrivileged" | "takendown" | "refresh" | "admin" | "service" | "oauth";
  readonly did?: string;
  /** The token's `jti` (refresh and service tokens) or app password name, when there is one. */
  readonly tokenId?: string;
  /** Access tokens: the account's hosting status (methods letting inactive accounts in may need it). */
  readonly status?: AccountStatus;
  /** Service tokens: the issuer as written (`did` or `did#serviceId`) and the method the token is bound to. */
  readonly iss?: string;
  readonly lxm?: string;
  /** OAuth access tokens (kind "oauth"): what the user granted; every method checks its permission against it. */
  readonly oauth?: OAuthGrant;
}

/** An account's hosting status: what the verifier checks a token's account against. */
export type AccountStatus = "active" | "deactivated" | "takendown";

/**
 * Which accounts may use a method with their tokens, by hosting status. A
 * method says how far it is safe for an account that is not active:
 * - "active" (the default, except under "optional"): active accounts only;
 *   deactivated → 401 AccountDeactivated, taken down → 401 AccountTakedown;
 * - "deactivated-ok": deactivated accounts too, which is how an account moved
 *   here is filled before it is activated (blobs, handle, app passwords);
 * - "any": taken-down accounts too: their own session and reading their own
 *   data. Under auth "optional" this is the default: an optional token only
 *   tells who is reading public data.
 * A deleted account's tokens never work (403 AccountNotFound).
 */
export type AccountStatusRule = "active" | "deactivated-ok" | "any";
