import { createHmac } from "node:crypto";
import type { AccountService } from "@/account/service";
import type { SessionStore } from "@/auth/sessions";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { PlainRoute } from "@/http/plain-route";
import type { SafeFetchOptions } from "@/identity/safe-fetch";
import type { Logger } from "@/log";
import { createAccessTokens } from "./access-token";
import { authorizePage, authorizeSubmit } from "./authorize";
import { createClientRegistry } from "./client";
import type { OAuthDeps } from "./deps";
import { type DpopVerifier, createDpopVerifier } from "./dpop";
import { OAuthError } from "./errors";
import { authorizationServerMetadata, protectedResourceMetadata } from "./metadata";
import { createDpopNonces } from "./nonce";
import { pushedAuthorizationRequest } from "./par";
import { createReplayStore } from "./replay";
import { type OAuthResource, createOAuthResource } from "./resource";
import { revocationEndpoint } from "./revoke";
import { createOAuthStore } from "./store";
import { tokenEndpoint } from "./token";

export type { OAuthResource } from "./resource";

/** The authorization server and the resource server's token check, over the database and the cache. */
export interface OAuthServer {
  /** The plain HTTP routes: metadata, jwks, PAR, authorize (page and forms), token, revoke. */
  readonly routes: Readonly<Record<string, PlainRoute>>;
  /** Verifies DPoP-bound access tokens on XRPC requests (src/auth/verifier.ts). */
  readonly resource: OAuthResource;
  /** The nonce every response to a DPoP request carries. */
  readonly dpop: DpopVerifier;
  /** Drop expired requests and sessions. */
  prune(): Promise<void>;
}

export function createOAuthServer(deps: {
  issuer: string;
  serviceDid: string;
  jwtSecret: string;
  allowPrivateAddresses: boolean;
  db: DatabasePlugin;
  cache: CachePlugin;
  accounts: Pick<AccountService, "authenticate" | "getAccount">;
  sessions: Pick<SessionStore, "forgetOAuth" | "lookupOAuth">;
  log: Logger;
  /** Tests: name resolution and a CA for fetching client metadata. */
  clientFetch?: Pick<SafeFetchOptions, "lookup" | "ca">;
}): OAuthServer {
  const derive = (label: string) => createHmac("sha256", deps.jwtSecret).update(`aurora oauth ${label}`).digest("base64url");
  const replay = createReplayStore({ cache: deps.cache, db: deps.db });
  const dpop = createDpopVerifier({ publicUrl: deps.issuer, nonces: createDpopNonces(derive("dpop nonce")), replay });
  const accessTokens = createAccessTokens({ jwtSecret: deps.jwtSecret, issuer: deps.issuer, audience: deps.serviceDid });
  const store = createOAuthStore(deps.db);
  const log = deps.log.child({ component: "oauth" });
  const ctx: OAuthDeps = {
    issuer: deps.issuer,
    serverName: new URL(deps.issuer).host,
    store,
    clients: createClientRegistry({ issuer: deps.issuer, cache: deps.cache, replay, allowPrivate: deps.allowPrivateAddresses, log, ...(deps.clientFetch ? { fetchOptions: deps.clientFetch } : {}) }),
    dpop,
    accessTokens,
    accounts: deps.accounts,
    sessions: deps.sessions,
    csrfSecret: derive("csrf"),
    secureCookies: deps.issuer.startsWith("https:"),
    log,
  };

  /** OAuth endpoints answer in OAuth's error format, each with a fresh DPoP nonce. */
  const endpoint = (fn: (request: Request) => Promise<Response>): PlainRoute => ({
    methods: ["POST"],
    handler: async (request) => {
      let response: Response;
      try {
        response = await fn(request);
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        response = Response.json(err.toJSON(), { status: err.status, headers: { ...err.headers, "cache-control": "no-store" } });
      }
      if (!response.headers.has("dpop-nonce")) response.headers.set("dpop-nonce", dpop.nonce());
      return response;
    },
  });
  const document = (body: unknown): PlainRoute => ({ handler: () => Response.json(body, { headers: { "cache-control": "public, max-age=300" } }) });

  const routes: Record<string, PlainRoute> = {
    "/.well-known/oauth-authorization-server": document(authorizationServerMetadata(deps.issuer)),
    "/.well-known/oauth-protected-resource": document(protectedResourceMetadata(deps.issuer)),
    // Access tokens are HS256 under a key only this server holds; there is no public key to publish.
    "/oauth/jwks": document({ keys: [] }),
    "/oauth/par": endpoint((request) => pushedAuthorizationRequest(ctx, request)),
    "/oauth/token": endpoint((request) => tokenEndpoint(ctx, request)),
    "/oauth/revoke": endpoint((request) => revocationEndpoint(ctx, request)),
    "/oauth/authorize": {
      methods: ["GET", "HEAD", "POST"],
      handler: (request, ip) => (request.method === "POST" ? authorizeSubmit(ctx, request, ip) : authorizePage(ctx, request, ip)),
    },
  };
  return {
    routes,
    resource: createOAuthResource({ accessTokens, dpop, sessions: deps.sessions }),
    dpop,
    prune: () => store.prune(new Date().toISOString()),
  };
}
