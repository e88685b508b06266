import { ScopePermissionsTransition } from "@atproto/oauth-scopes";
import type { SessionStore } from "@/auth/sessions";
import type { AccountStatus, OAuthGrant } from "@/auth/types";
import type { XrpcError } from "@/errors";
import { AccessTokenError, type AccessTokens } from "./access-token";
import { type DpopVerifier, resourceServerError } from "./dpop";
import { OAuthError } from "./errors";

/** An OAuth access token's verified caller, before the method's account-status rule is applied. */
export interface OAuthCaller {
  did: string;
  /** The OAuth session (`oauth_token.id`). */
  tokenId: string;
  status: AccountStatus | null;
  grant: OAuthGrant;
}

/** The resource-server half: XRPC requests carrying `Authorization: DPoP <access token>` and a `DPoP` proof. */
export interface OAuthResource {
  /** The caller, or an XrpcError (401, `WWW-Authenticate: DPoP …`, a fresh `DPoP-Nonce`) saying what was wrong. */
  verify(request: Request, token: string): Promise<OAuthCaller>;
  /** The refusal for a DPoP-bound token sent as a Bearer token. */
  boundTokenAsBearer(): XrpcError;
}

/**
 * Checks, in order: the token's signature, issuer, audience and expiry; the
 * DPoP proof (method, URL, nonce, replay, and `ath` = this token's hash);
 * that the proof's key is the one the token is bound to; and that the
 * session still exists (read through the session cache, so a revocation on
 * any node holds everywhere). The granted scope comes from the session row.
 */
export function createOAuthResource(deps: {
  accessTokens: AccessTokens;
  dpop: DpopVerifier;
  sessions: Pick<SessionStore, "lookupOAuth">;
}): OAuthResource {
  const refuse = (error: string, description: string) => resourceServerError(new OAuthError(401, error, description), deps.dpop.nonce());
  /** Permission objects parse the scope string once per distinct grant. */
  const permissions = new Map<string, ScopePermissionsTransition>();
  const permissionsOf = (scope: string) => {
    let found = permissions.get(scope);
    if (!found) {
      if (permissions.size >= 1000) permissions.clear();
      found = new ScopePermissionsTransition(scope);
      permissions.set(scope, found);
    }
    return found;
  };

  return {
    async verify(request, token) {
      let claims;
      try {
        claims = await deps.accessTokens.verify(token);
      } catch (err) {
        if (err instanceof AccessTokenError) throw refuse("invalid_token", err.message);
        throw err;
      }
      let proof;
      try {
        proof = await deps.dpop.check(request, { accessToken: token });
      } catch (err) {
        if (err instanceof OAuthError) throw resourceServerError(err, deps.dpop.nonce());
        throw err;
      }
      if (!proof) throw refuse("invalid_token", "DPoP proof required with a DPoP-bound access token");
      if (proof.jkt !== claims.jkt) throw refuse("invalid_token", "DPoP proof signed by another key than the token is bound to");
      const session = await deps.sessions.lookupOAuth(claims.jti);
      if (!session || session.did !== claims.sub) throw refuse("invalid_token", "Token has been revoked");
      return {
        did: session.did,
        tokenId: claims.jti,
        status: session.status,
        grant: { clientId: session.clientId, scope: session.scope, permissions: permissionsOf(session.scope) },
      };
    },
    boundTokenAsBearer: () => refuse("invalid_token", "This access token is DPoP-bound: send it with the DPoP scheme and a proof"),
  };
}
