import { CLIENT_ASSERTION_TYPE_JWT_BEARER } from "@atproto/oauth-types";
import { type JSONWebKeySet, calculateJwkThumbprint, createLocalJWKSet, errors, exportJWK, jwtVerify } from "jose";
import { invalidClient } from "./errors";
import type { ReplayStore } from "./replay";

/** How a request's client proved who it is: nothing (public client) or a signed assertion from one of its keys. */
export type ClientAuth = { method: "none" } | { method: "private_key_jwt"; kid: string; alg: string; jkt: string };

/** Oldest `iat` we take: an assertion is made for one request, just before it is sent. */
export const CLIENT_ASSERTION_MAX_AGE_S = 60;
/** Clock difference we forgive between the client and us. */
export const CLIENT_ASSERTION_SKEW_S = 5;

/** What `authenticate` needs to know about the client (a subset of `OAuthClient`). */
export interface AuthenticatingClient {
  readonly id: string;
  readonly metadata: { readonly token_endpoint_auth_method: string; readonly token_endpoint_auth_signing_alg?: string };
  readonly jwks?: JSONWebKeySet;
}

/**
 * Checks a PAR/token/revoke request's client authentication against the
 * client's registered method (RFC 7523 §3, atproto "Confidential Client
 * Authentication"): a public client must send no assertion; a confidential
 * one must send a jwt-bearer assertion signed with the registered algorithm
 * by a key of its JWKS, with iss = sub = client_id, our issuer in aud, a
 * recent iat (and exp, when present, in the future) and a jti never seen before. Every refusal is
 * invalid_client. `jkt` is the RFC 7638 SHA-256 thumbprint of the key that
 * signed, so sessions can be bound to it.
 */
export async function authenticateClient(
  client: AuthenticatingClient,
  form: Readonly<Record<string, string>>,
  deps: { issuer: string; replay: ReplayStore },
): Promise<ClientAuth> {
  const assertion = form.client_assertion;
  const assertionType = form.client_assertion_type;
  const method = client.metadata.token_endpoint_auth_method;

  if (method === "none") {
    if (assertion !== undefined || assertionType !== undefined) {
      throw invalidClient(`client ${client.id} is a public client (token_endpoint_auth_method "none") and must not send a client assertion`);
    }
    return { method: "none" };
  }
  if (method !== "private_key_jwt") throw invalidClient(`unsupported token_endpoint_auth_method "${method}"`);
  if (!assertion) throw invalidClient(`client ${client.id} must authenticate with a client_assertion (private_key_jwt)`);
  if (assertionType !== CLIENT_ASSERTION_TYPE_JWT_BEARER) {
    throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE_JWT_BEARER}`);
  }
  const alg = client.metadata.token_endpoint_auth_signing_alg;
  if (!alg || !client.jwks) throw invalidClient(`client ${client.id} has no keys to verify its assertion with`);

  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      algorithms: [alg],
      issuer: client.id,
      subject: client.id,
      audience: deps.issuer,
      maxTokenAge: CLIENT_ASSERTION_MAX_AGE_S,
      clockTolerance: CLIENT_ASSERTION_SKEW_S,
      // @atproto/oauth-client sends iat and jti but no exp: the max age on iat bounds the assertion instead.
      requiredClaims: ["iat", "jti"],
    });
  } catch (err) {
    const why = err instanceof errors.JOSEError ? err.message : "the JWT could not be verified";
    throw invalidClient(`client_assertion refused: ${why}`);
  }

  const { payload, protectedHeader, key } = verified;
  const kid = protectedHeader.kid;
  if (!kid) throw invalidClient('client_assertion refused: its header has no "kid"');
  if (typeof payload.jti !== "string" || payload.jti === "") throw invalidClient('client_assertion refused: "jti" must be a non-empty string');

  // Accepted only while iat is within the max age (plus skew either side), so remember the jti that long.
  const ttl = CLIENT_ASSERTION_MAX_AGE_S + 2 * CLIENT_ASSERTION_SKEW_S;
  if (!(await deps.replay.unique("client-assertion", `${client.id} ${payload.jti}`, ttl))) {
    throw invalidClient("client_assertion refused: this jti was already used");
  }

  const jkt = await calculateJwkThumbprint(await exportJWK(key as CryptoKey), "sha256");
  return { method: "private_key_jwt", kid, alg: protectedHeader.alg, jkt };
}
