import { decodeJwt } from "jose";
import { readParameters } from "./body";
import type { OAuthDeps } from "./deps";
import { invalidRequest } from "./errors";
import { revokeSession } from "./token";

/**
 * POST /oauth/revoke (RFC 7009): end the session an access or refresh token
 * belongs to, on every node at once (the row goes, the cached copy is
 * dropped). The client authenticates as at the token endpoint and may revoke
 * only its own sessions; an unknown token is not an error.
 */
export async function revocationEndpoint(deps: OAuthDeps, request: Request): Promise<Response> {
  // A DPoP proof is optional here, but one that is sent must be valid.
  await deps.dpop.check(request, {});
  const body = await readParameters(request);
  const token = body.token;
  if (!token) throw invalidRequest("token required");
  if (!body.client_id) throw invalidRequest("client_id required");
  const client = await deps.clients.get(body.client_id);
  await deps.clients.authenticate(client, body);
  const sessionId = await sessionOf(deps, token);
  if (sessionId) {
    const row = await deps.store.getToken(sessionId);
    if (row && row.client_id === client.id) await revokeSession(deps, sessionId);
  }
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}

/** The session a token names: an access token's `jti` (its signature checked, expiry not), a refresh token's row. */
async function sessionOf(deps: OAuthDeps, token: string): Promise<string | null> {
  if (token.startsWith("ref-")) {
    const row = await deps.store.tokenByRefresh(token);
    return row?.id ?? (await deps.store.usedRefreshOwner(token));
  }
  try {
    return (await deps.accessTokens.verify(token)).jti;
  } catch {
    // An expired access token still names its session: revoking it must still end the refresh token.
    try {
      const { jti } = decodeJwt(token);
      if (typeof jti !== "string") return null;
      return (await deps.accessTokens.verifyIgnoringExpiry(token)) ? jti : null;
    } catch {
      return null;
    }
  }
}
