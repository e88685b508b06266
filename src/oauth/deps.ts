import type { AccountService } from "@/account/service";
import type { SessionStore } from "@/auth/sessions";
import type { Logger } from "@/log";
import type { AccessTokens } from "./access-token";
import type { ClientRegistry } from "./client";
import type { DpopVerifier } from "./dpop";
import type { OAuthStore } from "./store";

/** What the authorization server's endpoints work with; built once by `createOAuthServer`. */
export interface OAuthDeps {
  /** The authorization server's issuer identifier: the PDS's public URL. */
  readonly issuer: string;
  readonly serverName: string;
  readonly store: OAuthStore;
  readonly clients: ClientRegistry;
  readonly dpop: DpopVerifier;
  readonly accessTokens: AccessTokens;
  readonly accounts: Pick<AccountService, "authenticate" | "getAccount">;
  readonly sessions: Pick<SessionStore, "forgetOAuth">;
  /** Key for the sign-in pages' CSRF tokens. */
  readonly csrfSecret: string;
  /** Set the device cookie `Secure` (an https public URL). */
  readonly secureCookies: boolean;
  readonly log: Logger;
}

/** How long a pushed authorization request may wait for the user. */
export const REQUEST_TTL_SECONDS = 10 * 60;
/** How long an authorization code may wait for its exchange. */
export const CODE_TTL_SECONDS = 2 * 60;
/** An OAuth session's whole life: public clients (no key of their own) get two weeks, confidential ones six months. */
export const PUBLIC_SESSION_TTL_SECONDS = 14 * 24 * 60 * 60;
export const CONFIDENTIAL_SESSION_TTL_SECONDS = 180 * 24 * 60 * 60;
/** How recently an account must have typed its password on a device to be chosen there without "stay signed in". */
export const FRESH_SIGN_IN_SECONDS = 15 * 60;
export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";

/** 256 random bits, URL-safe, after a short prefix naming what the id is for. */
export function randomId(prefix: string): string {
  return `${prefix}-${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
}
