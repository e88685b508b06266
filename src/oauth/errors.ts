/**
 * OAuth errors as RFC 6749 writes them: `{ error, error_description }` with
 * the status the error code calls for. The authorization server's endpoints
 * (PAR, token, revoke) answer with these, not with XRPC's `{ error, message }`.
 * `headers` carries what a client needs to retry, e.g. a fresh `DPoP-Nonce`.
 */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}

export const invalidRequest = (description: string) => new OAuthError(400, "invalid_request", description);
export const invalidClient = (description: string) => new OAuthError(401, "invalid_client", description);
export const invalidGrant = (description: string) => new OAuthError(400, "invalid_grant", description);
export const invalidScope = (description: string) => new OAuthError(400, "invalid_scope", description);
export const invalidDpopProof = (description: string) => new OAuthError(400, "invalid_dpop_proof", description);
/** RFC 9449 §8: the client must retry with the nonce in the `DPoP-Nonce` header. */
export const useDpopNonce = (nonce: string, description = "Authorization server requires nonce in DPoP proof") =>
  new OAuthError(400, "use_dpop_nonce", description, { "dpop-nonce": nonce });
