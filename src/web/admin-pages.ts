import type { AdminActionView } from "@/admin/log";
import type { KeyFigures } from "@/admin/ui-figures";
import type { AdminAccountView, AdminInviteView } from "@/admin/ui-services";
import type { ReadinessReport } from "@/http/health";
import { type Html, html, page } from "@/web/layout";

/**
 * The admin pages at /admin: pure render functions, one Response each. Every
 * form posts to /admin with a hidden `csrf` (bound to the admin session, or
 * to the sign-in form before there is one) and an `action`; src/admin/ui.ts
 * reads exactly these fields. Searching is a GET: it changes nothing.
 */

const ADMIN = "/admin";

/** Messages the account and dashboard pages show after an action (the redirect names one by key). */
export const NOTICES = {
  "taken-down": "The account is taken down: its repository is not served and its sessions are revoked.",
  restored: "The takedown is lifted: the account is active again.",
  "invite-disabled": "The invite code is disabled.",
} as const;
export type Notice = keyof typeof NOTICES;

/** Who is viewing: the CSRF token of the session and the server's name. */
export interface AdminView {
  csrf: string;
  serverName: string;
}

function form(csrf: string, action: string, body: Html, label: string, cls = ""): Html {
  return html`<form method="post" action="${ADMIN}"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="action" value="${action}">${body}<button type="submit"${cls ? html` class="${cls}"` : ""}>${label}</button></form>`;
}

const hidden = (name: string, value: string) => html`<input type="hidden" name="${name}" value="${value}">`;

function adminPage(v: AdminView, title: string, body: Html, status = 200, headers?: ConstructorParameters<typeof Headers>[0]): Response {
  const bar = html`<nav class="bar"><a href="${ADMIN}">Dashboard</a>${form(v.csrf, "logout", html``, "Sign out", "secondary")}</nav>`;
  return page({ title: `${title} · Aurora admin`, body: html`${bar}${body}`, status, site: `${v.serverName} · admin`, wide: true, ...(headers ? { headers } : {}) });
}

/** The sign-in form: the admin password only. */
export function loginPage(v: { csrf: string; serverName: string; error?: string; status?: number; headers?: ConstructorParameters<typeof Headers>[0] }): Response {
  const body = html`<h1>Admin sign-in</h1>
${v.error ? html`<p class="alert" role="alert">${v.error}</p>` : ""}
<form method="post" action="${ADMIN}">
${hidden("csrf", v.csrf)}${hidden("action", "login")}
<label for="password">Admin password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required autofocus>
<div class="actions"><button type="submit">Sign in</button></div>
</form>
<p class="muted">The password is the server's admin password (PDS_ADMIN_PASSWORD).</p>`;
  return page({ title: "Admin sign-in", body, status: v.status ?? 200, site: `${v.serverName} · admin`, ...(v.headers ? { headers: v.headers } : {}) });
}

/** An admin error or refusal page. */
export function adminErrorPage(v: { title: string; message: string; status: number; serverName: string }): Response {
  const body = html`<h1>${v.title}</h1><p class="alert" role="alert">${v.message}</p><p><a href="${ADMIN}">Back to the dashboard</a></p>`;
  return page({ title: v.title, body, status: v.status, site: `${v.serverName} · admin` });
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const ms = (seconds: number | null) => (seconds === null ? "–" : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0)} ms`);

function figure(label: string, value: string): Html {
  return html`<div class="figure"><span class="muted">${label}</span><b>${value}</b></div>`;
}

function status(account: AdminAccountView): Html {
  return account.status === "active" ? html`active` : html`<span class="bad">${account.status}</span>`;
}

function accountsTable(accounts: readonly AdminAccountView[]): Html {
  if (accounts.length === 0) return html`<p class="muted">No account matches.</p>`;
  const rows = accounts.map(
    (a) => html`<tr><td><a href="${`${ADMIN}/account?did=${encodeURIComponent(a.did)}`}">${a.handle ?? "(no handle)"}</a><div class="muted mono">${a.did}</div></td><td>${a.email ?? "–"}</td><td>${status(a)}</td><td>${a.createdAt.slice(0, 10)}</td></tr>`,
  );
  return html`<table><thead><tr><th>Account</th><th>Email</th><th>Status</th><th>Created</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function actionsTable(actions: readonly AdminActionView[]): Html {
  if (actions.length === 0) return html`<p class="muted">No moderation or administration action yet.</p>`;
  const rows = actions.map(
    (a) => html`<tr><td>${a.createdAt.replace("T", " ").slice(0, 19)}</td><td>${a.action}</td><td class="mono">${a.subject}</td><td>${a.actor}</td></tr>`,
  );
  return html`<table><thead><tr><th>When (UTC)</th><th>Action</th><th>Subject</th><th>By</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function invitesSection(v: AdminView, invites: readonly AdminInviteView[], created?: string): Html {
  const createForm = form(v.csrf, "invite-create", html`<label for="uses">Uses</label><input type="number" id="uses" name="uses" value="1" min="1" max="1000">`, "Create invite code");
  const list =
    invites.length === 0
      ? html`<p class="muted">No invite codes yet.</p>`
      : html`<table><thead><tr><th>Code</th><th>Uses left</th><th>Used</th><th>For</th><th></th></tr></thead><tbody>${invites.map(
            (i) =>
              html`<tr><td class="mono">${i.code}</td><td>${i.disabled ? html`<span class="bad">disabled</span>` : i.available}</td><td>${i.uses}</td><td class="mono">${i.forAccount}</td><td>${i.disabled ? "" : form(v.csrf, "invite-disable", hidden("code", i.code), "Disable", "secondary")}</td></tr>`,
          )}</tbody></table>`;
  return html`<h2>Invite codes</h2>
${created ? html`<p class="note" role="status">New invite code: <span class="mono" id="new-invite">${created}</span></p>` : ""}
<div class="row">${createForm}</div>
${list}`;
}

export interface DashboardView extends AdminView {
  health: ReadinessReport;
  figures: KeyFigures;
  query: string;
  /** The accounts the search found. */
  accounts: readonly AdminAccountView[];
  invites: readonly AdminInviteView[];
  actions: readonly AdminActionView[];
  notice?: Notice;
  /** An invite code just created (shown at the top of the invites). */
  createdInvite?: string;
}

/** GET /admin: health, key figures, account search, invite codes, the moderation log. */
export function dashboardPage(v: DashboardView): Response {
  const checks = Object.entries(v.health.checks).map(([name, state]) => html`<li>${name}: ${state === "ok" ? "ok" : html`<span class="bad">${state}</span>`}</li>`);
  const f = v.figures;
  const body = html`<h1>Aurora admin</h1>
${v.notice ? html`<p class="note" role="status">${NOTICES[v.notice]}</p>` : ""}
<h2>Server</h2>
<p>Status: ${v.health.status === "ok" ? html`<b>ok</b>` : html`<span class="bad">unavailable</span>`}</p>
<ul>${checks}</ul>
<div class="figures">
${figure("Requests", String(f.requests))}${figure("5xx errors", String(f.serverErrors))}${figure("Latency p50", ms(f.latencyP50))}${figure("Latency p95", ms(f.latencyP95))}${figure("Firehose subscribers", String(f.firehoseSubscribers))}${figure("Blob storage", bytes(f.storageBytes))}
</div>
<p class="muted">Requests, errors, latency and subscribers are this node's, since it started; storage is the whole server's.</p>
<h2>Accounts</h2>
<form method="get" action="${ADMIN}" class="row" role="search">
<label for="q" class="muted">Handle or email starts with</label>
<input type="text" id="q" name="q" value="${v.query}" autocomplete="off">
<button type="submit">Search</button>
</form>
${accountsTable(v.accounts)}
${invitesSection(v, v.invites, v.createdInvite)}
<h2>Recent moderation actions</h2>
${actionsTable(v.actions)}`;
  return adminPage(v, "Dashboard", body);
}

export interface AccountPageView extends AdminView {
  account: AdminAccountView;
  actions: readonly AdminActionView[];
  notice?: Notice;
  /** A password just set: shown this once, never stored. */
  newPassword?: string;
}

/** GET /admin/account?did=…: one account, its status and actions, and its log entries. */
export function accountPage(v: AccountPageView): Response {
  const a = v.account;
  const did = hidden("did", a.did);
  const takedown =
    a.status === "takendown"
      ? form(v.csrf, "untakedown", did, "Lift the takedown")
      : form(v.csrf, "takedown", did, "Take down");
  const body = html`<h1>${a.handle ?? a.did}</h1>
${v.notice ? html`<p class="note" role="status">${NOTICES[v.notice]}</p>` : ""}
${v.newPassword ? html`<div class="note" role="status"><p>New password (shown once; give it to the account holder over a safe channel):</p><p class="mono" id="new-password">${v.newPassword}</p></div>` : ""}
<table><tbody>
<tr><th>DID</th><td class="mono">${a.did}</td></tr>
<tr><th>Handle</th><td>${a.handle ?? "–"}</td></tr>
<tr><th>Email</th><td>${a.email ?? "–"}${a.email ? (a.emailConfirmed ? " (confirmed)" : " (not confirmed)") : ""}</td></tr>
<tr><th>Status</th><td id="status">${status(a)}${a.takedownRef ? html` <span class="muted">(${a.takedownRef})</span>` : ""}</td></tr>
<tr><th>Created</th><td>${a.createdAt}</td></tr>
</tbody></table>
<div class="row">${takedown}${form(v.csrf, "reset-password", did, "Reset password", "secondary")}</div>
<h2>Actions on this account</h2>
${actionsTable(v.actions)}`;
  return adminPage(v, a.handle ?? a.did, body);
}
