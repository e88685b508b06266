import { createHash, timingSafeEqual } from "node:crypto";
import type { ClientAuth, OAuthClient } from "./client";
import { readParameters } from "./body";
import { CONFIDENTIAL_SESSION_TTL_SECONDS, type OAuthDeps, PUBLIC_SESSION_TTL_SECONDS, randomId } from "./deps";
import type { DpopProof } from "./dpop";
import { OAuthError, invalidDpopProof, invalidGrant, invalidRequest } from "./errors";
import type { AuthorizationParameters, TokenRow } from "./store";

/**
 * POST /oauth/token: exchange a code (with its PKCE verifier) for a session,
 * or rotate a refresh token. Every call proves the DPoP key the request was
 * pushed with and authenticates the client as it did then. A code exchanged
 * twice, or a refresh token used after it was rotated, revokes the session
 * it produced (RFC 6749 §4.1.2, OAuth 2.1 refresh token reuse detection).
 */
export async function tokenEndpoint(deps: OAuthDeps, request: Request): Promise<Response> {
  const proof = await deps.dpop.check(request, {});
  if (!proof) throw invalidDpopProof("DPoP proof required");
  const body = await readParameters(request);
  if (!body.client_id) throw invalidRequest("client_id required");
  const client = await deps.clients.get(body.client_id);
  const auth = await deps.clients.authenticate(client, body);
  switch (body.grant_type) {
    case "authorization_code":
      return answer(deps, await exchangeCode(deps, client, auth, proof, body));
    case "refresh_token":
      return answer(deps, await rotate(deps, client, auth, proof, body));
    case undefined:
      throw invalidRequest("grant_type required");
    default:
      throw new OAuthError(400, "unsupported_grant_type", `Unsupported grant_type: ${body.grant_type.slice(0, 64)}`);
  }
}

interface Issued {
  row: TokenRow;
  refreshToken: string;
}

async function exchangeCode(deps: OAuthDeps, client: OAuthClient, auth: ClientAuth, proof: DpopProof, body: Record<string, string>): Promise<Issued> {
  const code = body.code;
  if (!code) throw invalidRequest("code required");
  const request = await deps.store.takeCode(code);
  if (!request) {
    // A code used a second time: whoever holds the session it produced may have stolen it; end that session.
    const earlier = await deps.store.tokenByCode(code);
    if (earlier) await revokeSession(deps, earlier.id);
    throw invalidGrant("Invalid or expired authorization code");
  }
  const params = JSON.parse(request.parameters) as AuthorizationParameters;
  if (request.client_id !== client.id) throw invalidGrant("The code was issued to another client");
  if (!sameAuth(JSON.parse(request.client_auth) as ClientAuth, auth)) throw invalidGrant("The client authenticated differently when the request was pushed");
  if (body.redirect_uri !== undefined && body.redirect_uri !== params.redirect_uri) throw invalidGrant("redirect_uri does not match the authorization request");
  const verifier = body.code_verifier;
  if (!verifier) throw invalidGrant("PKCE code_verifier required");
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) throw invalidGrant("Malformed PKCE code_verifier");
  if (!equal(createHash("sha256").update(verifier).digest("base64url"), params.code_challenge)) throw invalidGrant("PKCE code_verifier does not match the code_challenge");
  if (request.dpop_jkt !== null && request.dpop_jkt !== proof.jkt) throw invalidDpopProof("DPoP key differs from the one the request was pushed with");
  if (request.did === null) throw invalidGrant("The code was not approved");

  const now = Date.now();
  const lifetime = auth.method === "none" ? PUBLIC_SESSION_TTL_SECONDS : CONFIDENTIAL_SESSION_TTL_SECONDS;
  const refreshToken = randomId("ref");
  const row: TokenRow = {
    id: randomId("tok"),
    did: request.did,
    client_id: client.id,
    client_auth: request.client_auth,
    device_id: request.device_id,
    parameters: request.parameters,
    scope: params.scope,
    dpop_jkt: proof.jkt,
    code,
    refresh_token: refreshToken,
    created_at: new Date(now).toISOString(),
    updated_at: new Date(now).toISOString(),
    expires_at: new Date(now + lifetime * 1000).toISOString(),
  };
  await deps.store.createToken(row);
  return { row, refreshToken };
}

async function rotate(deps: OAuthDeps, client: OAuthClient, auth: ClientAuth, proof: DpopProof, body: Record<string, string>): Promise<Issued> {
  const presented = body.refresh_token;
  if (!presented) throw invalidRequest("refresh_token required");
  const row = await deps.store.tokenByRefresh(presented);
  if (!row) {
    const owner = await deps.store.usedRefreshOwner(presented);
    if (owner) {
      await revokeSession(deps, owner);
      throw invalidGrant("Refresh token replayed; the session has been revoked");
    }
    throw invalidGrant("Invalid refresh token");
  }
  if (row.client_id !== client.id) throw invalidGrant("The refresh token was issued to another client");
  if (!sameAuth(JSON.parse(row.client_auth) as ClientAuth, auth)) throw invalidGrant("The client authenticated differently when the session began");
  if (row.dpop_jkt !== proof.jkt) throw invalidDpopProof("DPoP key differs from the session's");
  if (row.expires_at <= new Date().toISOString()) {
    await revokeSession(deps, row.id);
    throw invalidGrant("The session has expired");
  }
  const refreshToken = randomId("ref");
  const nextId = randomId("tok");
  if (!(await deps.store.rotateRefresh(row.id, nextId, presented, refreshToken, new Date().toISOString()))) {
    // Another request rotated it first: this one is the replay, and the session it raced ends.
    const current = await deps.store.usedRefreshOwner(presented);
    if (current) await revokeSession(deps, current);
    throw invalidGrant("Refresh token replayed; the session has been revoked");
  }
  // Access tokens issued before the refresh name the old id: drop its cached row so they stop at once.
  await deps.sessions.forgetOAuth(row.id);
  return { row: { ...row, id: nextId, refresh_token: refreshToken }, refreshToken };
}

/** The token response (RFC 6749 §5.1 with atproto's `sub`): a DPoP-bound access token and the session's refresh token. */
async function answer(deps: OAuthDeps, { row, refreshToken }: Issued): Promise<Response> {
  const { token, expiresIn } = await deps.accessTokens.sign({ sub: row.did, jti: row.id, clientId: row.client_id, scope: row.scope, jkt: row.dpop_jkt });
  const body = { access_token: token, token_type: "DPoP", expires_in: expiresIn, refresh_token: refreshToken, scope: row.scope, sub: row.did };
  return Response.json(body, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
}

/** End an OAuth session: its row, its refresh tokens, and its cached copy on every node. */
export async function revokeSession(deps: OAuthDeps, id: string): Promise<void> {
  await deps.store.deleteToken(id);
  await deps.sessions.forgetOAuth(id);
}

/** The same client authentication as before: the same method and, for private_key_jwt, the same key. */
function sameAuth(before: ClientAuth, now: ClientAuth): boolean {
  if (before.method !== now.method) return false;
  if (before.method === "private_key_jwt" && now.method === "private_key_jwt") return before.kid === now.kid;
  return true;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
