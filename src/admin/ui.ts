import type { AppContext } from "@/app-context";
import { LOGIN_FAILURES_RULE } from "@/account/sessions";
import { secretsEqual } from "@/auth/basic";
import { XrpcError } from "@/errors";
import { checkReadiness } from "@/http/health";
import type { PlainRoute } from "@/http/plain-route";
import { type Notice, NOTICES, accountPage, adminErrorPage, dashboardPage, loginPage } from "@/web/admin-pages";
import { checkCsrf, csrfToken, readForm } from "@/web/csrf";
import { recentAdminActions } from "./log";
import { adminUiServices } from "./ui-bind";
import { keyFigures } from "./ui-figures";
import { type AdminSession, createAdminSessions } from "./ui-session";
import type { AdminUiServices } from "./ui-services";

/**
 * The admin web page (config `admin.ui`, PDS_ADMIN_UI): GET /admin (sign-in,
 * or the dashboard), POST /admin (every form: sign-in, sign-out and the
 * actions), GET /admin/account?did=… (one account). Sign-in takes the admin
 * password, compared in constant time and limited per client IP by the
 * `login-failures` rule, and opens a stateless signed session cookie
 * (ui-session.ts). Every form carries a CSRF token bound to the session and
 * must come from our own origin. The actions call the admin services
 * (ui-services.ts); the pages are src/web/admin-pages.ts.
 */
export function createAdminUi(ctx: AppContext, services: AdminUiServices = adminUiServices(ctx)): Record<string, PlainRoute> {
  const { config } = ctx;
  const publicUrl = config.service.publicUrl;
  const serverName = new URL(publicUrl).host;
  const sessions = createAdminSessions({ jwtSecret: config.secrets.jwtSecret, adminPassword: config.secrets.adminPassword, secure: publicUrl.startsWith("https:") });
  const csrfFor = (session: AdminSession | null) => csrfToken(sessions.csrfSecret, session ? `session:${session.nonce}` : "login");
  const view = (session: AdminSession) => ({ csrf: csrfFor(session), serverName });
  const login = (opts: { error?: string; status?: number; headers?: ConstructorParameters<typeof Headers>[0] } = {}) => loginPage({ csrf: csrfFor(null), serverName, ...opts });
  const fail = (status: number, title: string, message: string) => adminErrorPage({ title, message, status, serverName });

  const dashboard = async (session: AdminSession, query: string, extra: { notice?: Notice; createdInvite?: string } = {}) => {
    const [health, figures, accounts, invites, actions] = await Promise.all([
      checkReadiness(ctx),
      keyFigures(ctx.metrics.registry),
      services.searchAccounts(query, 50),
      services.listInvites(50),
      recentAdminActions(ctx.db.db(), { limit: 25 }),
    ]);
    return dashboardPage({ ...view(session), health, figures, query, accounts, invites, actions, ...extra });
  };

  const account = async (session: AdminSession, did: string, extra: { notice?: Notice; newPassword?: string } = {}) => {
    const found = await services.accountInfo(did);
    if (!found) return fail(404, "Account not found", "No account with this DID is hosted here.");
    const actions = await recentAdminActions(ctx.db.db(), { did, limit: 25 });
    return accountPage({ ...view(session), account: found, actions, ...extra });
  };

  /** The password form: one login-failures point spent per try, given back when the password is right. */
  const signIn = async (form: URLSearchParams, ip: string): Promise<Response> => {
    try {
      await ctx.rateLimits.consumePoints(LOGIN_FAILURES_RULE, ip, 1);
    } catch (err) {
      if (err instanceof XrpcError && err.error === "RateLimitExceeded") {
        return login({ status: 429, error: "Too many failed attempts from this address. Wait a few minutes and try again." });
      }
      throw err;
    }
    if (!secretsEqual(form.get("password") ?? "", config.secrets.adminPassword)) return login({ status: 401, error: "Wrong password." });
    await ctx.rateLimits.refund(LOGIN_FAILURES_RULE, ip, 1).catch((err) => ctx.log.warn("could not refund a login-failures point", { err }));
    const { cookie } = sessions.open();
    ctx.log.info("admin page sign-in", { ip });
    return redirect("/admin", cookie);
  };

  const act = async (session: AdminSession, form: URLSearchParams): Promise<Response> => {
    const action = form.get("action");
    const did = form.get("did") ?? "";
    switch (action) {
      case "logout":
        return redirect("/admin", sessions.clear());
      case "takedown":
      case "untakedown":
        if (!did.startsWith("did:")) return fail(400, "Bad form", "The form names no account.");
        await (action === "takedown" ? services.takedown(did) : services.untakedown(did));
        return redirect(accountUrl(did, action === "takedown" ? "taken-down" : "restored"));
      case "reset-password": {
        if (!did.startsWith("did:")) return fail(400, "Bad form", "The form names no account.");
        const password = generatePassword();
        await services.setPassword(did, password);
        return account(session, did, { newPassword: password });
      }
      case "invite-create": {
        const uses = Number(form.get("uses") ?? "1");
        if (!Number.isInteger(uses) || uses < 1 || uses > 1000) return fail(400, "Bad form", "Uses must be a whole number from 1 to 1000.");
        return dashboard(session, "", { createdInvite: await services.createInvite(uses) });
      }
      case "invite-disable": {
        const code = form.get("code") ?? "";
        if (code === "") return fail(400, "Bad form", "The form names no invite code.");
        await services.disableInvite(code);
        return redirect("/admin?notice=invite-disabled");
      }
      default:
        return fail(400, "Bad form", "Unknown action.");
    }
  };

  /** Admin errors as pages: a service's refusal shows its message, anything else is logged. */
  const guarded = (fn: (request: Request, ip: string) => Promise<Response>) => async (request: Request, ip: string) => {
    try {
      return await fn(request, ip);
    } catch (err) {
      if (err instanceof XrpcError) return fail(err.status >= 400 ? err.status : 400, "Action refused", err.message);
      ctx.log.error("admin page failed", { err });
      return fail(500, "Something went wrong", "The server could not do this. The details are in the server log.");
    }
  };

  const home = guarded(async (request, ip) => {
    if (request.method === "POST") {
      let form: URLSearchParams;
      try {
        form = await readForm(request);
      } catch {
        return fail(400, "Bad form", "This form could not be read.");
      }
      const session = sessions.read(request);
      const binding = form.get("action") === "login" ? null : session;
      if (form.get("action") !== "login" && !session) return login({ status: 401, error: "Your admin session ended. Sign in again." });
      if (!checkCsrf(request, form, { secret: sessions.csrfSecret, binding: binding ? `session:${binding.nonce}` : "login", publicUrl })) {
        return fail(403, "Request refused", "This form was not sent from this admin page. Reload the page and try again.");
      }
      return binding ? act(binding, form) : signIn(form, ip);
    }
    const session = sessions.read(request);
    if (!session) return login();
    const url = new URL(request.url);
    const notice = url.searchParams.get("notice");
    return dashboard(session, (url.searchParams.get("q") ?? "").trim().slice(0, 256), notice && notice in NOTICES ? { notice: notice as Notice } : {});
  });

  const accountRoute = guarded(async (request) => {
    const session = sessions.read(request);
    if (!session) return redirect("/admin");
    const url = new URL(request.url);
    const did = url.searchParams.get("did") ?? "";
    if (!did.startsWith("did:") || did.length > 2048) return fail(400, "Bad link", "This link names no account.");
    const notice = url.searchParams.get("notice");
    return account(session, did, notice && notice in NOTICES ? { notice: notice as Notice } : {});
  });

  return {
    "/admin": { methods: ["GET", "HEAD", "POST"], handler: home },
    "/admin/account": { handler: accountRoute },
  };
}

const accountUrl = (did: string, notice?: Notice) => `/admin/account?did=${encodeURIComponent(did)}${notice ? `&notice=${notice}` : ""}`;

function redirect(location: string, cookie?: string): Response {
  const headers = new Headers({ location, "cache-control": "no-store" });
  if (cookie) headers.append("set-cookie", cookie);
  return new Response(null, { status: 303, headers });
}

// No 0/O/1/l/I: the password is read off a screen and typed or spoken.
const PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";

/** A new account password: 20 characters in groups of 5 (100 bits), from the crypto RNG. */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  const chars = [...bytes].map((b) => PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]!);
  return [0, 5, 10, 15].map((i) => chars.slice(i, i + 5).join("")).join("-");
}
