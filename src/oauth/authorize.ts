import { createHash, timingSafeEqual } from "node:crypto";
import { XrpcError } from "@/errors";
import { readCookie } from "@/web/cookie";
import { checkCsrf, csrfToken, readForm } from "@/web/csrf";
import { type ClientView, chooserPage, consentPage, errorPage, signInPage } from "@/web/oauth-pages";
import type { OAuthClient } from "./client";
import { CODE_TTL_SECONDS, FRESH_SIGN_IN_SECONDS, type OAuthDeps, REQUEST_URI_PREFIX, randomId } from "./deps";
import type { AuthorizationParameters, RequestRow } from "./store";

const DEVICE_COOKIE = "aurora-device";
/** The shape of the ids randomId makes. */
const ID = /^[a-z]{3}-[A-Za-z0-9_-]{43}$/;
const DEVICE_COOKIE_MAX_AGE = 365 * 24 * 60 * 60;

/** A request being shown to a browser: its row, parameters, client, and the device holding it. */
interface Flow {
  row: RequestRow;
  params: AuthorizationParameters;
  client: OAuthClient;
  deviceId: string;
  /** Set-Cookie for a device met for the first time. */
  setCookie?: string;
}

/**
 * GET /oauth/authorize?client_id=…&request_uri=…: where the client sends the
 * browser after PAR. The request is tied to this browser (its device cookie);
 * the page is the account chooser when accounts stayed signed in here, the
 * sign-in form otherwise (or when `prompt=login`); `prompt=none` answers at
 * once, with a code or with login_required / consent_required.
 */
export async function authorizePage(deps: OAuthDeps, request: Request, ip: string): Promise<Response> {
  const url = new URL(request.url);
  const flow = await openFlow(deps, request, ip, url.searchParams.get("request_uri"), url.searchParams.get("client_id"));
  if (flow instanceof Response) return flow;
  const { params } = flow;
  const accounts = await usableAccounts(deps, flow.deviceId, params.login_hint);
  if (params.prompt === "none") {
    const only = accounts.length === 1 ? accounts[0]! : null;
    if (!only) return withCookie(redirectError(deps, params, "login_required"), flow.setCookie);
    if (!(await coversScope(deps, only.did, params))) return withCookie(redirectError(deps, params, "consent_required"), flow.setCookie);
    return withCookie(await approve(deps, flow, only.did), flow.setCookie);
  }
  if (params.prompt !== "login" && accounts.length > 0) {
    return withCookie(chooserPage({ ...pageBase(deps, flow), accounts: accounts.map((a) => ({ did: a.did, handle: a.handle ?? a.did })) }), flow.setCookie);
  }
  return withCookie(signInPage({ ...pageBase(deps, flow), identifier: await hintedIdentifier(deps, params.login_hint) }), flow.setCookie);
}

/**
 * POST /oauth/authorize: the pages' forms. Each one must come from this
 * browser (device cookie), from our own origin with the page's CSRF token.
 * Sign-in checks the account password (never an app password) with the
 * same limits and email code as createSession; consent stores the grant and
 * sends the browser back to the client with a one-time code.
 */
export async function authorizeSubmit(deps: OAuthDeps, request: Request, ip: string): Promise<Response> {
  let form: URLSearchParams;
  try {
    form = await readForm(request);
  } catch {
    return fail(deps, 400, "Bad form", "This form could not be read. Go back to the app and try again.");
  }
  const flow = await openFlow(deps, request, ip, form.get("request_uri"), form.get("client_id"), false);
  if (flow instanceof Response) return flow;
  if (!checkCsrf(request, form, { secret: deps.csrfSecret, binding: binding(flow), publicUrl: deps.issuer })) {
    return fail(deps, 403, "Request refused", "This form was not sent from this sign-in page. Go back to the app and try again.");
  }
  const base = pageBase(deps, flow);
  switch (form.get("action")) {
    case "sign-in":
      return signIn(deps, flow, form, ip);
    case "another":
      return signInPage(base);
    case "select": {
      const did = form.get("did") ?? "";
      if (!(await signedIn(deps, flow.deviceId, did, false))) return signInPage({ ...base, error: "Please sign in again." });
      return consentOrApprove(deps, flow, did);
    }
    case "allow":
    case "deny": {
      const did = form.get("did") ?? "";
      if (!(await signedIn(deps, flow.deviceId, did, true))) return signInPage({ ...base, error: "Please sign in again." });
      if (form.get("action") === "deny") return redirectError(deps, flow.params, "access_denied", "The user denied access");
      await deps.store.saveConsent(did, flow.client.id, mergeScopes(await deps.store.consentedScope(did, flow.client.id), flow.params.scope));
      return approve(deps, flow, did);
    }
    default:
      return fail(deps, 400, "Bad form", "Unknown action.");
  }
}

async function signIn(deps: OAuthDeps, flow: Flow, form: URLSearchParams, ip: string): Promise<Response> {
  const identifier = (form.get("identifier") ?? "").trim().replace(/^@/, "");
  const password = form.get("password") ?? "";
  const code = (form.get("code") ?? "").trim();
  const base = { ...pageBase(deps, flow), identifier };
  if (identifier === "" || password === "") return signInPage({ ...base, error: "Enter your handle (or email) and password." });
  let account: { did: string; appPassword: boolean };
  try {
    account = await deps.accounts.authenticate(identifier, password, ip, code ? { authFactorToken: code } : {});
  } catch (err) {
    if (!(err instanceof XrpcError)) throw err;
    if (err.error === "AuthFactorTokenRequired") {
      return signInPage({ ...base, needCode: true, error: code ? "That code is not right, or it expired." : undefined, codeHint: err.message });
    }
    if (err.error === "RateLimitExceeded") return signInPage({ ...base, error: "Too many attempts. Wait a few minutes and try again." });
    if (err.error === "AccountTakedown") return signInPage({ ...base, error: "This account has been taken down." });
    if (err.status === 400 && code) return signInPage({ ...base, needCode: true, error: "That code is not right, or it expired." });
    return signInPage({ ...base, error: "Wrong handle or password." });
  }
  // App passwords are for apps that cannot do OAuth; signing in to grant an app access takes the account password.
  if (account.appPassword) return signInPage({ ...base, error: "Use your account password here, not an app password." });
  await deps.store.signInOnDevice(flow.deviceId, account.did, form.get("remember") === "on");
  return consentOrApprove(deps, flow, account.did);
}

/** The consent page, unless the account already granted this client every scope asked for (and `prompt` is not consent). */
async function consentOrApprove(deps: OAuthDeps, flow: Flow, did: string): Promise<Response> {
  if (flow.params.prompt !== "consent" && (await coversScope(deps, did, flow.params))) return approve(deps, flow, did);
  const account = await deps.accounts.getAccount(did);
  if (!account) return fail(deps, 400, "Account not found", "This account is not hosted here any more.");
  return consentPage({ ...pageBase(deps, flow), account: { did, handle: account.handle ?? did }, scopes: flow.params.scope, redirectUri: flow.params.redirect_uri });
}

/** Issue the one-time code and send the browser back to the client. */
async function approve(deps: OAuthDeps, flow: Flow, did: string): Promise<Response> {
  const code = randomId("cod");
  await deps.store.issueCode(flow.row.id, did, code, new Date(Date.now() + CODE_TTL_SECONDS * 1000).toISOString());
  return redirectBack(deps, flow.params, { code });
}

function redirectError(deps: OAuthDeps, params: AuthorizationParameters, error: string, description?: string): Response {
  return redirectBack(deps, params, { error, ...(description ? { error_description: description } : {}) });
}

/** 303 to the registered redirect URI with the answer, `state` and `iss` (RFC 9207), in the query or the fragment. */
function redirectBack(deps: OAuthDeps, params: AuthorizationParameters, answer: Record<string, string>): Response {
  const values = new URLSearchParams({ ...answer, iss: deps.issuer });
  if (params.state !== undefined) values.set("state", params.state);
  const uri = params.redirect_uri;
  const location =
    params.response_mode === "fragment" ? `${uri.split("#")[0]}#${values}` : `${uri.split("#")[0]}${uri.includes("?") ? "&" : "?"}${values}`;
  return new Response(null, { status: 303, headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" } });
}

/**
 * Load the request a page or form names and the browser's device (created
 * on first sight when `mayCreateDevice`), and tie the two together: a
 * request started in one browser cannot be finished in another.
 */
async function openFlow(
  deps: OAuthDeps,
  request: Request,
  ip: string,
  requestUri: string | null,
  clientId: string | null,
  mayCreateDevice = true,
): Promise<Flow | Response> {
  if (!requestUri?.startsWith(REQUEST_URI_PREFIX) || !clientId) {
    return fail(deps, 400, "Invalid sign-in link", "This link is missing its request. Go back to the app and start again.");
  }
  const id = requestUri.slice(REQUEST_URI_PREFIX.length);
  // Ids are ours (randomId): anything else is not looked up at all (NUL bytes and the like never reach the database).
  const row = ID.test(id) ? await deps.store.getRequest(id) : null;
  if (!row || row.client_id !== clientId || row.code !== null) {
    return fail(deps, 400, "Sign-in expired", "This sign-in request has expired or was already used. Go back to the app and start again.");
  }
  const params = JSON.parse(row.parameters) as AuthorizationParameters;
  let client: OAuthClient;
  try {
    client = await deps.clients.get(row.client_id);
  } catch {
    return fail(deps, 400, "App unavailable", "The app's description could not be loaded. Try again later.");
  }
  const userAgent = request.headers.get("user-agent")?.slice(0, 256) ?? null;
  let deviceId = await knownDevice(deps, request);
  let setCookie: string | undefined;
  if (deviceId === null) {
    if (!mayCreateDevice) return fail(deps, 400, "Cookies needed", "This browser did not keep the sign-in cookie. Allow cookies for this site and try again.");
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    deviceId = randomId("dev");
    const now = new Date().toISOString();
    await deps.store.createDevice({ id: deviceId, secret_hash: sha256(secret), user_agent: userAgent, ip, created_at: now, last_seen_at: now });
    const secure = deps.secureCookies ? "; Secure" : "";
    setCookie = `${DEVICE_COOKIE}=${deviceId}.${secret}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=${DEVICE_COOKIE_MAX_AGE}${secure}`;
  } else {
    await deps.store.touchDevice(deviceId, ip, userAgent);
  }
  if (!(await deps.store.bindDevice(row.id, deviceId))) {
    return fail(deps, 400, "Another browser", "This sign-in was started in another browser. Go back to the app and start again here.");
  }
  return { row, params, client, deviceId, setCookie };
}

/** The device id of a valid device cookie, or null. */
async function knownDevice(deps: OAuthDeps, request: Request): Promise<string | null> {
  const cookie = readCookie(request.headers.get("cookie"), DEVICE_COOKIE);
  const dot = cookie?.indexOf(".") ?? -1;
  if (!cookie || dot < 0 || cookie.length > 200 || !ID.test(cookie.slice(0, dot))) return null;
  const device = await deps.store.getDevice(cookie.slice(0, dot));
  if (!device) return null;
  const given = Buffer.from(sha256(cookie.slice(dot + 1)));
  const kept = Buffer.from(device.secret_hash);
  return given.length === kept.length && timingSafeEqual(given, kept) ? device.id : null;
}


/** Accounts that may be chosen on this device without typing a password: remembered, or signed in a moment ago. */
async function usableAccounts(deps: OAuthDeps, deviceId: string, loginHint: string | undefined) {
  const accounts = (await deps.store.deviceAccounts(deviceId)).filter((a) => a.remember);
  if (!loginHint) return accounts;
  const hint = loginHint.toLowerCase().replace(/^@/, "");
  return accounts.filter((a) => a.did === hint || a.handle === hint);
}

/** Whether `did` is signed in on the device: remembered, or (`freshOnly` false: also) signed in within FRESH_SIGN_IN_SECONDS. */
async function signedIn(deps: OAuthDeps, deviceId: string, did: string, allowFresh: boolean): Promise<boolean> {
  const account = (await deps.store.deviceAccounts(deviceId)).find((a) => a.did === did);
  if (!account) return false;
  if (account.remember) return true;
  return allowFresh && Date.now() - Date.parse(account.authenticatedAt) < FRESH_SIGN_IN_SECONDS * 1000;
}

async function coversScope(deps: OAuthDeps, did: string, params: AuthorizationParameters): Promise<boolean> {
  const granted = new Set((await deps.store.consentedScope(did, params.client_id))?.split(" ") ?? []);
  return params.scope.split(" ").every((s) => granted.has(s));
}

function mergeScopes(previous: string | null, next: string): string {
  return [...new Set([...(previous?.split(" ") ?? []), ...next.split(" ")].filter(Boolean))].join(" ");
}

/** The sign-in identifier a login_hint suggests: the handle when it names an account here. */
async function hintedIdentifier(deps: OAuthDeps, hint: string | undefined): Promise<string | undefined> {
  if (!hint) return undefined;
  const cleaned = hint.replace(/^@/, "").slice(0, 256);
  const account = await deps.accounts.getAccount(cleaned).catch(() => null);
  return account?.handle ?? cleaned;
}

function pageBase(deps: OAuthDeps, flow: Flow) {
  return {
    csrf: csrfToken(deps.csrfSecret, binding(flow)),
    requestUri: REQUEST_URI_PREFIX + flow.row.id,
    client: clientView(flow.client),
    serverName: deps.serverName,
  };
}

function clientView(client: OAuthClient): ClientView {
  const name = typeof client.metadata.client_name === "string" ? client.metadata.client_name : undefined;
  const uri = typeof client.metadata.client_uri === "string" ? client.metadata.client_uri : undefined;
  return { clientId: client.id, loopback: client.loopback, ...(name ? { name } : {}), ...(uri ? { uri } : {}) };
}

/** What a page's CSRF token is bound to: this browser and this request. */
const binding = (flow: Flow) => `${flow.deviceId}:${flow.row.id}`;

function withCookie(response: Response, cookie: string | undefined): Response {
  if (cookie) response.headers.append("set-cookie", cookie);
  return response;
}

function fail(deps: OAuthDeps, status: number, title: string, message: string): Response {
  return errorPage({ title, message, status, serverName: deps.serverName });
}

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}
