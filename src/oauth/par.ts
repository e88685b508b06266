import { oauthAuthorizationRequestParametersSchema } from "@atproto/oauth-types";
import { readParameters } from "./body";
import { type OAuthDeps, REQUEST_TTL_SECONDS, REQUEST_URI_PREFIX, randomId } from "./deps";
import { OAuthError, invalidDpopProof, invalidRequest, invalidScope } from "./errors";
import type { AuthorizationParameters } from "./store";

/** Form fields that authenticate the client rather than describe the request. */
const CLIENT_AUTH_FIELDS = ["client_assertion", "client_assertion_type", "client_secret"];
/** The longest values kept with a request (they come back in redirects and pages). */
const LENGTH_LIMITS: readonly [string, number][] = [
  ["state", 2048],
  ["login_hint", 512],
  ["redirect_uri", 2048],
  ["scope", 4096],
  ["code_challenge", 128],
];
/** `prompt` values the pages act on. */
const PROMPTS = new Set(["none", "login", "consent", "select_account"]);

/**
 * POST /oauth/par (RFC 9126): the only way to start an authorization here.
 * The request must carry a DPoP proof (its key is the one the tokens will be
 * bound to), authenticate as its client, ask for PKCE S256 and a scope the
 * client registered that includes `atproto`; it is stored for
 * REQUEST_TTL_SECONDS and answered with its `request_uri`.
 */
export async function pushedAuthorizationRequest(deps: OAuthDeps, request: Request): Promise<Response> {
  const proof = await deps.dpop.check(request, {});
  if (!proof) throw invalidDpopProof("DPoP proof required");
  const body = await readParameters(request);
  const clientId = body.client_id;
  if (!clientId) throw invalidRequest("client_id required");
  const client = await deps.clients.get(clientId);
  const clientAuth = await deps.clients.authenticate(client, body);
  if (body.request !== undefined) throw new OAuthError(400, "request_not_supported", "Request objects are not supported; send the parameters");
  if (body.request_uri !== undefined) throw invalidRequest("request_uri is not allowed in a pushed authorization request");

  const fields = Object.fromEntries(Object.entries(body).filter(([key]) => !CLIENT_AUTH_FIELDS.includes(key)));
  const parsed = oauthAuthorizationRequestParametersSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidRequest(`Invalid ${issue?.path.join(".") || "request"}: ${issue?.message ?? "not valid"}`);
  }
  const p = parsed.data;
  for (const [name, max] of LENGTH_LIMITS) {
    const value = (p as Record<string, unknown>)[name];
    if (typeof value === "string" && value.length > max) throw invalidRequest(`${name} is longer than ${max} characters`);
  }
  if (p.response_type !== "code") throw new OAuthError(400, "unsupported_response_type", "Only response_type=code is supported");
  if (!p.code_challenge) throw invalidRequest("PKCE code_challenge required");
  if (p.code_challenge_method !== "S256") throw invalidRequest("code_challenge_method must be S256");
  if (!/^[A-Za-z0-9_-]{43}$/.test(p.code_challenge)) throw invalidRequest("code_challenge must be a base64url SHA-256 digest");
  if (p.dpop_jkt !== undefined && p.dpop_jkt !== proof.jkt) throw invalidDpopProof("dpop_jkt does not match the DPoP proof's key");
  const responseMode = p.response_mode ?? "query";
  if (responseMode !== "query" && responseMode !== "fragment") throw invalidRequest("response_mode must be query or fragment");
  if (p.prompt !== undefined && !PROMPTS.has(p.prompt)) throw invalidRequest(`Unsupported prompt: ${p.prompt}`);
  if (p.authorization_details !== undefined || p.claims !== undefined) throw invalidRequest("authorization_details and claims are not supported");

  const scope = checkScope(p.scope ?? client.metadata.scope ?? "", client.metadata.scope ?? "");
  const redirectUri = deps.clients.redirectUri(client, p.redirect_uri);
  const parameters: AuthorizationParameters = {
    client_id: client.id,
    redirect_uri: redirectUri,
    scope,
    code_challenge: p.code_challenge,
    code_challenge_method: "S256",
    response_mode: responseMode,
    ...(p.state !== undefined ? { state: p.state } : {}),
    ...(p.login_hint !== undefined ? { login_hint: p.login_hint } : {}),
    ...(p.prompt !== undefined ? { prompt: p.prompt } : {}),
  };
  const id = randomId("req");
  const now = Date.now();
  await deps.store.createRequest({
    id,
    client_id: client.id,
    client_auth: JSON.stringify(clientAuth),
    parameters: JSON.stringify(parameters),
    dpop_jkt: proof.jkt,
    device_id: null,
    did: null,
    code: null,
    expires_at: new Date(now + REQUEST_TTL_SECONDS * 1000).toISOString(),
    created_at: new Date(now).toISOString(),
  });
  const response = Response.json({ request_uri: REQUEST_URI_PREFIX + id, expires_in: REQUEST_TTL_SECONDS }, { status: 201 });
  response.headers.set("cache-control", "no-store");
  return response;
}

/**
 * The requested scope, normalised: every scope must be one the client
 * registered, `atproto` must be there, and no scope may repeat. Granular
 * `include:` permission sets would need lexicon resolution over the network;
 * they are refused rather than silently widened or narrowed.
 */
function checkScope(requested: string, registered: string): string {
  const allowed = new Set(registered.split(" ").filter(Boolean));
  const scopes = [...new Set(requested.split(" ").filter(Boolean))];
  if (!scopes.includes("atproto")) throw invalidScope('The "atproto" scope is required');
  for (const scope of scopes) {
    if (scope.startsWith("include:")) throw invalidScope(`Permission sets (${scope.slice(0, 128)}) are not supported by this server`);
    if (!allowed.has(scope)) throw invalidScope(`Scope "${scope.slice(0, 128)}" is not registered by the client`);
  }
  return scopes.join(" ");
}
