import { type Html, html, page } from "@/web/layout.ts";
import { describeScopes } from "@/web/scope-words.ts";

/**
 * The OAuth sign-in, account chooser, consent and error pages: pure render
 * functions, one Response each. Every form posts to /oauth/authorize with
 * hidden `csrf`, `request_uri`, `client_id` and `action` (the consent form
 * takes `action` from its buttons); the authorize handler reads exactly these.
 */

/** What the pages show of a client. `name` is the client's own claim; the client_id host is always shown beside it. */
export interface ClientView {
  clientId: string;
  name?: string;
  uri?: string;
  loopback: boolean;
}

const AUTHORIZE = "/oauth/authorize";
// A client picks its own name: keep it from pushing the rest of the page away.
const NAME_MAX = 80;

function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

function formStart(v: { csrf: string; requestUri: string; client: ClientView }, action?: string): Html {
  return html`<form method="post" action="${AUTHORIZE}">
${hidden("csrf", v.csrf)}${hidden("request_uri", v.requestUri)}${hidden("client_id", v.client.clientId)}${action ? hidden("action", action) : ""}`;
}

/** The host of a client_id URL (or the whole string when it is not one). */
export function clientHost(clientId: string): string {
  try {
    return new URL(clientId).host || clientId;
  } catch {
    return clientId;
  }
}

function clientName(client: ClientView): string {
  const name = client.name?.trim();
  if (!name) return clientHost(client.clientId);
  return name.length > NAME_MAX ? `${name.slice(0, NAME_MAX - 1)}…` : name;
}

function homepage(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  try {
    const url = new URL(uri);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who is asking, then `wants`: the name it claims, the host it really comes
 * from, its homepage, and a warning for a development (loopback) app.
 */
function clientBlock(client: ClientView, wants: Html): Html {
  const site = homepage(client.uri);
  const host = clientHost(client.clientId);
  const name = clientName(client);
  // Without a name of its own the host is the name; never show the host twice.
  const who = name === host ? html`<strong class="mono">${host}</strong>` : html`<strong>${name}</strong> <span class="muted">from <span class="mono">${host}</span></span>`;
  return html`<p>${who} ${wants}</p>
${site ? html`<p class="muted"><a href="${site}" rel="noopener noreferrer">About this app</a></p>` : ""}
${client.loopback ? html`<p class="note">This is a development app running on your own computer. Only continue if you started it yourself.</p>` : ""}`;
}

function alert(error: string | undefined): Html | "" {
  return error ? html`<div class="alert" role="alert">${error}</div>` : "";
}

/** The sign-in form: handle or email, password, the emailed code when two-factor asks for it, "stay signed in". */
export function signInPage(v: {
  csrf: string;
  requestUri: string;
  client: ClientView;
  identifier?: string;
  error?: string;
  needCode?: boolean;
  codeHint?: string;
  serverName: string;
}): Response {
  // Focus lands on the first field still to fill in.
  const focus = v.needCode ? "code" : v.identifier ? "password" : "identifier";
  const body = html`<h1>Sign in</h1>
${clientBlock(v.client, html`wants to use your account on ${v.serverName}.`)}
${alert(v.error)}
${formStart(v, "sign-in")}
<label for="identifier">Handle or email</label>
<input id="identifier" name="identifier" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${v.identifier ?? ""}"${focus === "identifier" ? html` autofocus` : ""}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${focus === "password" ? html` autofocus` : ""}>
${v.needCode ? html`<p id="code-help">A sign-in code was emailed to ${v.codeHint || "you"}. Enter it below.</p>
<label for="code">Sign-in code</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required aria-describedby="code-help" autofocus>` : ""}
<div class="check"><input id="remember" name="remember" type="checkbox" value="on"><label for="remember">Stay signed in on this device</label></div>
<button type="submit">Sign in</button>
</form>`;
  return page({ title: `Sign in · ${v.serverName}`, body, site: v.serverName, });
}

/** The account chooser: one form per account remembered on this device, and "Use another account". */
export function chooserPage(v: {
  csrf: string;
  requestUri: string;
  client: ClientView;
  accounts: { did: string; handle: string }[];
  serverName: string;
}): Response {
  const body = html`<h1>Choose an account</h1>
${clientBlock(v.client, html`wants to use your account on ${v.serverName}.`)}
<ul class="accounts" aria-label="Accounts signed in on this device">
${v.accounts.map((a) => html`<li>${formStart(v, "select")}${hidden("did", a.did)}<button type="submit" class="block secondary">@${a.handle}</button></form></li>
`)}</ul>
${formStart(v, "another")}<button type="submit" class="secondary">Use another account</button></form>`;
  return page({ title: `Choose an account · ${v.serverName}`, body, site: v.serverName });
}

/** The consent page: who asks, for which account, what it may do; Allow or Deny. */
export function consentPage(v: {
  csrf: string;
  requestUri: string;
  client: ClientView;
  account: { did: string; handle: string };
  scopes: string;
  redirectUri: string;
  serverName: string;
}): Response {
  const lines = describeScopes(v.scopes);
  const body = html`<h1>Allow access to your account?</h1>
${clientBlock(v.client, html`wants to use <strong>@${v.account.handle}</strong> on ${v.serverName}.`)}
<h2>It will be able to</h2>
<ul class="scopes">
${lines.map((l) => html`<li>${l.title}${l.detail ? html`<span>${l.detail}</span>` : ""}</li>
`)}</ul>
<p class="muted">Either way you go back to <span class="mono">${clientHost(v.redirectUri) || v.redirectUri}</span>.</p>
${formStart(v)}${hidden("did", v.account.did)}
<div class="actions">
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
<button type="submit" name="action" value="allow">Allow</button>
</div>
</form>`;
  // After the POST the browser follows our 303 to redirect_uri, and Chrome checks that redirect against form-action.
  return page({ title: `Allow access · ${v.serverName}`, body, site: v.serverName, formAction: [v.redirectUri] });
}

/** An error the user can read (a bad or expired request, a refused client); never a stack trace. */
export function errorPage(v: { title: string; message: string; status: number; serverName: string }): Response {
  const body = html`<h1>${v.title}</h1>
<div class="alert" role="alert">${v.message}</div>
<p class="muted">Go back to the app you came from and try signing in again.</p>`;
  return page({ title: `${v.title} · ${v.serverName}`, body, site: v.serverName, status: v.status });
}
