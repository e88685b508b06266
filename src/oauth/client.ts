import { createHash } from "node:crypto";
import {
  type OAuthClientMetadata,
  atprotoLoopbackClientMetadata,
  isOAuthClientIdLoopback,
  oauthClientIdDiscoverableSchema,
  oauthClientMetadataSchema,
} from "@atproto/oauth-types";
import type { JSONWebKeySet } from "jose";
import type { CachePlugin } from "@/contracts/cache";
import { type SafeFetchOptions, safeFetch } from "@/identity/safe-fetch";
import type { Logger } from "@/log";
import { type ClientAuth, authenticateClient } from "./client-auth";
import { badClient, describeIssues, isLoopbackIp, validateClientMetadata } from "./client-metadata";
import { invalidRequest } from "./errors";
import type { ReplayStore } from "./replay";

export type { ClientAuth } from "./client-auth";

/** A client we can talk to: its id, its checked metadata and, for confidential clients, its public keys. */
export interface OAuthClient {
  /** The client_id. */
  readonly id: string;
  /** Validated against the atproto profile. */
  readonly metadata: OAuthClientMetadata;
  /** An `http://localhost` development client: metadata built from the id itself, public client only. */
  readonly loopback: boolean;
  /** Confidential clients: their public keys (from `jwks` or `jwks_uri`). */
  readonly jwks?: JSONWebKeySet;
}

/** Client discovery and authentication for our authorization server. */
export interface ClientRegistry {
  /** The client's validated metadata; OAuthError invalid_client (400) when it cannot be fetched or is not valid for atproto. */
  get(clientId: string): Promise<OAuthClient>;
  /** Authenticate a PAR/token/revoke request's form fields (client_assertion_type, client_assertion). */
  authenticate(client: OAuthClient, form: Readonly<Record<string, string>>): Promise<ClientAuth>;
  /**
   * The redirect URI to use for a request: the given one when registered (a
   * registered loopback IP URI matches on any port, RFC 8252 §7.3), the only
   * registered one when omitted; else OAuthError invalid_request.
   */
  redirectUri(client: OAuthClient, requested: string | undefined): string;
}

export interface ClientRegistryDeps {
  /** Our publicUrl: the audience of client assertions. */
  issuer: string;
  /** Holds fetched metadata and JWKS documents (and, briefly, fetch failures). */
  cache: CachePlugin;
  replay: ReplayStore;
  /**
   * identity.allowPrivateAddresses: client_id and jwks_uri may then point at
   * loopback/private addresses, carry a port, and jwks_uri may be plain http.
   */
  allowPrivate: boolean;
  /** Tests: name resolution, a local CA, a shorter timeout. */
  fetchOptions?: Pick<SafeFetchOptions, "lookup" | "ca" | "timeoutMs">;
  log: Logger;
}

/** Fetched documents stay this long: long enough to spare clients a fetch per request, short enough that a removed key stops working soon. */
export const CLIENT_DOC_TTL_S = 600;
/** A failed fetch is remembered this long, so a broken client cannot make us fetch on every request. */
export const CLIENT_DOC_ERROR_TTL_S = 30;
/** Largest metadata or JWKS document we read. */
export const CLIENT_DOC_MAX_BYTES = 64 * 1024;
const MAX_CLIENT_ID_LENGTH = 2048;

const jwksSchema = oauthClientMetadataSchema.shape.jwks.unwrap();

type Cached = { doc: unknown } | { error: string };

/**
 * The client registry of atproto OAuth (atproto.com/specs/oauth, "Clients"):
 * a client_id is either an https URL serving the client's metadata document
 * (fetched with safeFetch: no redirects, bounded size and time, JSON only;
 * cached), or `http://localhost[?redirect_uri=..&scope=..]`, a development
 * client whose metadata is built from the id (allowed in production, as the
 * spec encourages).
 */
export function createClientRegistry(deps: ClientRegistryDeps): ClientRegistry {
  const inflight = new Map<string, Promise<Cached>>();

  /** A JSON document from `url`, through the cache; one fetch at a time per URL in this process. */
  const document = (kind: "metadata" | "jwks", url: string): Promise<Cached> => {
    const key = `oauth-client:${kind}:${createHash("sha256").update(url).digest("base64url")}`;
    const running = inflight.get(key);
    if (running) return running;
    const work = (async (): Promise<Cached> => {
      const hit = await deps.cache.get(key);
      if (hit !== null) {
        try {
          return JSON.parse(hit) as Cached;
        } catch {
          // A damaged entry: fetch again.
        }
      }
      const result = await fetchJson(kind, url);
      if ("error" in result) deps.log.info("oauth client document fetch failed", { kind, url, error: result.error });
      await deps.cache.set(key, JSON.stringify(result), "error" in result ? CLIENT_DOC_ERROR_TTL_S : CLIENT_DOC_TTL_S);
      return result;
    })().finally(() => inflight.delete(key));
    inflight.set(key, work);
    return work;
  };

  const fetchJson = async (kind: "metadata" | "jwks", url: string): Promise<Cached> => {
    const what = kind === "metadata" ? "client metadata" : "client jwks";
    try {
      const res = await safeFetch(url, {
        allowPrivate: deps.allowPrivate,
        headers: { accept: "application/json" },
        maxBytes: CLIENT_DOC_MAX_BYTES,
        // The spec wants a 200 from the client_id URL itself, not a redirect.
        maxRedirects: 0,
        timeoutMs: deps.fetchOptions?.timeoutMs ?? 5000,
        ...(deps.fetchOptions?.lookup ? { lookup: deps.fetchOptions.lookup } : {}),
        ...(deps.fetchOptions?.ca ? { ca: deps.fetchOptions.ca } : {}),
      });
      if (res.status !== 200) return { error: `${what} at ${url} answered HTTP ${res.status}, not 200` };
      const type = String(res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      const jsonTypes = kind === "metadata" ? ["application/json"] : ["application/json", "application/jwk-set+json"];
      if (!jsonTypes.includes(type)) return { error: `${what} at ${url} has content-type "${type}", not application/json` };
      let doc: unknown;
      try {
        doc = res.json();
      } catch {
        return { error: `${what} at ${url} is not valid JSON` };
      }
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { error: `${what} at ${url} is not a JSON object` };
      return { doc };
    } catch (err) {
      return { error: `could not fetch ${what} from ${url}: ${(err as Error).message}` };
    }
  };

  const discoverable = async (clientId: string): Promise<OAuthClient> => {
    // safeParse itself throws on some ids that are not URLs at all (@atproto/oauth-types 0.7.6 calls `new URL` in a refinement).
    let parsed: ReturnType<typeof oauthClientIdDiscoverableSchema.safeParse>;
    try {
      parsed = oauthClientIdDiscoverableSchema.safeParse(clientId);
    } catch (err) {
      throw badClient(`invalid client_id ${clientId.slice(0, 256)}: ${(err as Error).message}`);
    }
    if (!parsed.success) throw badClient(`invalid client_id ${clientId}: ${describeIssues(parsed.error.issues)}`);
    // The spec forbids a port; development setups (allowPrivate) serve clients from ephemeral ports.
    if (new URL(clientId).port && !deps.allowPrivate) throw badClient(`invalid client_id ${clientId}: it must not include a port`);

    const fetched = await document("metadata", clientId);
    if ("error" in fetched) throw badClient(fetched.error);
    const metadata = validateClientMetadata(clientId, fetched.doc, true);
    if (!metadata.jwks_uri) return { id: clientId, metadata, loopback: false, jwks: metadata.jwks as JSONWebKeySet | undefined };

    const jwksUri = metadata.jwks_uri;
    if (!jwksUri.startsWith("https://") && !deps.allowPrivate) throw badClient(`jwks_uri ${jwksUri} must be an https: URL`);
    const keys = await document("jwks", jwksUri);
    if ("error" in keys) throw badClient(keys.error);
    const jwks = jwksSchema.safeParse(keys.doc);
    if (!jwks.success) throw badClient(`client jwks at ${jwksUri} is not valid: ${describeIssues(jwks.error.issues)}`);
    if (jwks.data.keys.length === 0) throw badClient(`client jwks at ${jwksUri} has no keys`);
    return { id: clientId, metadata, loopback: false, jwks: jwks.data as JSONWebKeySet };
  };

  return {
    async get(clientId) {
      if (clientId.length > MAX_CLIENT_ID_LENGTH) throw badClient(`client_id is longer than ${MAX_CLIENT_ID_LENGTH} characters`);
      if (!isOAuthClientIdLoopback(clientId)) return discoverable(clientId);
      let built: unknown;
      try {
        built = atprotoLoopbackClientMetadata(clientId);
      } catch (err) {
        throw badClient(`invalid loopback client_id ${clientId}: ${(err as Error).message}`);
      }
      return { id: clientId, metadata: validateClientMetadata(clientId, built, false), loopback: true };
    },

    authenticate(client, form) {
      return authenticateClient(client, form, { issuer: deps.issuer, replay: deps.replay });
    },

    redirectUri(client, requested) {
      const registered = client.metadata.redirect_uris;
      if (requested === undefined) {
        if (registered.length === 1) return registered[0]!;
        throw invalidRequest(`redirect_uri is required: client ${client.id} registers ${registered.length} redirect URIs`);
      }
      if (registered.includes(requested as never) || registered.some((uri) => sameLoopbackUriAnyPort(uri, requested))) return requested;
      throw invalidRequest(`redirect_uri ${requested} is not registered by client ${client.id}`);
    },
  };
}

/** RFC 8252 §7.3: a registered loopback IP redirect URI matches the requested one on every part but the port. */
function sameLoopbackUriAnyPort(registered: string, requested: string): boolean {
  let a: URL;
  let b: URL;
  try {
    a = new URL(registered);
    b = new URL(requested);
  } catch {
    return false;
  }
  if (a.protocol !== "http:" || !isLoopbackIp(a.hostname)) return false;
  return (
    a.protocol === b.protocol &&
    a.hostname === b.hostname &&
    a.pathname === b.pathname &&
    a.search === b.search &&
    a.hash === b.hash &&
    a.username === b.username &&
    a.password === b.password
  );
}
