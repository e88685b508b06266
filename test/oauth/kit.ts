/**
 * A small OAuth client for tests, written from the specs with jose: DPoP
 * proofs (retrying once on use_dpop_nonce, keeping the latest nonce), PKCE,
 * PAR, the sign-in pages driven with plain form posts (cookie, CSRF token,
 * Origin), code exchange, refresh, revocation and DPoP-bound XRPC calls.
 * The real client (@atproto/oauth-client-node) is exercised by oauth.e2e.ts;
 * this one can also send what a real client never would.
 */
import { createHash, randomBytes } from "node:crypto";
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";

export type Send = (request: Request) => Promise<Response>;

export const REDIRECT_URI = "http://127.0.0.1:4555/callback";
export const SCOPE = "atproto transition:generic";

export function loopbackClientId(scope = SCOPE, redirectUri = REDIRECT_URI): string {
  return `http://localhost?redirect_uri=${encodeURIComponent(redirectUri)}&scope=${encodeURIComponent(scope)}`;
}

export interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function dpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { privateKey, jwk: await exportJWK(publicKey) };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export async function proof(key: DpopKey, htm: string, htu: string, opts: { nonce?: string; ath?: string; jti?: string; iat?: number } = {}): Promise<string> {
  return new SignJWT({ htm, htu, jti: opts.jti ?? randomBytes(12).toString("base64url"), ...(opts.nonce ? { nonce: opts.nonce } : {}), ...(opts.ath ? { ath: opts.ath } : {}) })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk })
    .setIssuedAt(opts.iat)
    .sign(key.privateKey);
}

export const ath = (token: string) => createHash("sha256").update(token).digest("base64url");

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // HTML or empty
  }
  return { status: res.status, headers: res.headers, body };
}

/** One client session against one server (`base`: where requests go; `publicUrl`: what proofs name). */
export class TestOAuthClient {
  nonce: string | undefined;
  cookie: string | undefined;

  constructor(
    readonly send: Send,
    readonly base: string,
    readonly publicUrl: string,
    readonly key: DpopKey,
    readonly clientId = loopbackClientId(),
  ) {}

  /** A DPoP request; retried once with the server's nonce when it asks for one. */
  async dpop(method: string, path: string, init: { body?: Record<string, string>; auth?: string; headers?: Record<string, string>; raw?: string | Uint8Array } = {}): Promise<Reply> {
    const once = async () => {
      const htu = `${this.publicUrl}${path.split("?")[0]}`;
      const headers: Record<string, string> = {
        ...init.headers,
        dpop: await proof(this.key, method, htu, { nonce: this.nonce, ...(init.auth ? { ath: ath(init.auth) } : {}) }),
      };
      if (init.auth) headers.authorization = `DPoP ${init.auth}`;
      let body: string | Uint8Array | undefined = init.raw;
      if (init.body) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(init.body);
      }
      const res = await reply(await this.send(new Request(`${this.base}${path}`, { method, headers, body })));
      const fresh = res.headers.get("dpop-nonce");
      if (fresh) this.nonce = fresh;
      return res;
    };
    const first = await once();
    const wantsNonce = first.body?.error === "use_dpop_nonce" || (first.headers.get("www-authenticate") ?? "").includes('error="use_dpop_nonce"');
    return wantsNonce ? once() : first;
  }

  async par(extra: Record<string, string> = {}, challenge = pkce().challenge): Promise<Reply> {
    return this.dpop("POST", "/oauth/par", {
      body: { client_id: this.clientId, response_type: "code", redirect_uri: REDIRECT_URI, scope: SCOPE, state: "st-1", code_challenge: challenge, code_challenge_method: "S256", ...extra },
    });
  }

  /** A page or form of the sign-in, as a browser on our origin sends it (cookie kept). */
  async page(method: "GET" | "POST", path: string, form?: Record<string, string>): Promise<Reply> {
    const headers: Record<string, string> = { "user-agent": "test-browser" };
    if (this.cookie) headers.cookie = this.cookie;
    if (form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      headers.origin = new URL(this.publicUrl).origin;
    }
    const res = await this.send(new Request(`${this.base}${path}`, { method, headers, body: form ? new URLSearchParams(form).toString() : undefined, redirect: "manual" }));
    const set = res.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0];
    return reply(res);
  }

  /** Open the authorize page, sign in, allow: the authorization code (or the redirect's error). */
  async signInAndAllow(requestUri: string, identifier: string, password: string, opts: { remember?: boolean } = {}): Promise<URL> {
    const query = `client_id=${encodeURIComponent(this.clientId)}&request_uri=${encodeURIComponent(requestUri)}`;
    const opened = await this.page("GET", `/oauth/authorize?${query}`);
    if (opened.status !== 200) throw new Error(`authorize page: ${opened.status}`);
    const base = { csrf: hidden(opened.body, "csrf"), request_uri: requestUri, client_id: this.clientId };
    const signedIn = await this.page("POST", "/oauth/authorize", { ...base, action: "sign-in", identifier, password, ...(opts.remember ? { remember: "on" } : {}) });
    if (signedIn.status === 303) return new URL(signedIn.headers.get("location")!);
    if (signedIn.status !== 200 || !String(signedIn.body).includes('value="allow"')) throw new Error(`sign-in: ${signedIn.status} ${String(signedIn.body).slice(0, 300)}`);
    const did = hidden(signedIn.body, "did");
    const allowed = await this.page("POST", "/oauth/authorize", { ...base, csrf: hidden(signedIn.body, "csrf"), action: "allow", did });
    if (allowed.status !== 303) throw new Error(`allow: ${allowed.status} ${String(allowed.body).slice(0, 300)}`);
    return new URL(allowed.headers.get("location")!);
  }

  async token(body: Record<string, string>): Promise<Reply> {
    return this.dpop("POST", "/oauth/token", { body: { client_id: this.clientId, ...body } });
  }

  /** PAR → pages → code → tokens, in one go. */
  async login(identifier: string, password: string): Promise<{ access: string; refresh: string; sub: string; reply: Reply }> {
    const { verifier, challenge } = pkce();
    const par = await this.par({}, challenge);
    if (par.status !== 201) throw new Error(`par: ${par.status} ${JSON.stringify(par.body)}`);
    const back = await this.signInAndAllow(par.body.request_uri, identifier, password);
    const code = back.searchParams.get("code");
    if (!code) throw new Error(`no code: ${back}`);
    const tokens = await this.token({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
    if (tokens.status !== 200) throw new Error(`token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
    return { access: tokens.body.access_token, refresh: tokens.body.refresh_token, sub: tokens.body.sub, reply: tokens };
  }

  /** An XRPC call with a DPoP-bound access token. */
  async xrpc(nsid: string, access: string, init: { query?: string; body?: unknown; raw?: { type: string; data: Uint8Array } } = {}): Promise<Reply> {
    const path = `/xrpc/${nsid}${init.query ? `?${init.query}` : ""}`;
    if (init.raw) return this.dpop("POST", path, { auth: access, headers: { "content-type": init.raw.type }, raw: init.raw.data });
    if (init.body === undefined) return this.dpop("GET", path, { auth: access });
    return this.dpop("POST", path, { auth: access, headers: { "content-type": "application/json" }, raw: JSON.stringify(init.body) });
  }
}

/** The value of a hidden input in a page. */
export function hidden(page: string, name: string): string {
  const match = new RegExp(`name="${name}"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="${name}"`).exec(page);
  if (!match) throw new Error(`no hidden ${name} in page`);
  return (match[1] ?? match[2]!).replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
}
