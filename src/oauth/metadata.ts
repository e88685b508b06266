import { CLIENT_ASSERTION_ALGS } from "./client-metadata";
import { DPOP_ALGS } from "./dpop";

/** The scopes clients may ask for; granular `repo:`, `blob:`, `rpc:`, `account:` and `identity:` scopes come on top. */
const SCOPES = ["atproto", "transition:generic", "transition:chat.bsky", "transition:email"];

/**
 * RFC 8414 authorization server metadata, as the atproto profile asks:
 * client ID metadata documents, PAR required, PKCE S256, DPoP, `iss` in
 * the authorization response, public and private_key_jwt clients.
 */
export function authorizationServerMetadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    pushed_authorization_request_endpoint: `${issuer}/oauth/par`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    jwks_uri: `${issuer}/oauth/jwks`,
    require_pushed_authorization_requests: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: true,
    require_request_uri_registration: true,
    scopes_supported: SCOPES,
    subject_types_supported: ["public"],
    response_types_supported: ["code"],
    response_modes_supported: ["query", "fragment"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    ui_locales_supported: ["en-US"],
    display_values_supported: ["page"],
    prompt_values_supported: ["none", "login", "consent", "select_account"],
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: ["none", "private_key_jwt"],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    revocation_endpoint_auth_methods_supported: ["none", "private_key_jwt"],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    client_id_metadata_document_supported: true,
    protected_resources: [issuer],
  };
}

/** RFC 9728 protected resource metadata: this PDS is its own authorization server. */
export function protectedResourceMetadata(issuer: string) {
  return {
    resource: issuer,
    authorization_servers: [issuer],
    scopes_supported: [],
    bearer_methods_supported: ["header"],
    resource_documentation: "https://atproto.com",
  };
}
