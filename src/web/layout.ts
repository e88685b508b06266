import { createHash } from "node:crypto";

/**
 * The one layout and the one Content-Security-Policy of every HTML page
 * Aurora serves (OAuth sign-in and consent now, the admin pages later).
 * Pages are built with the `html` tag, which escapes every interpolated value
 * unless it is already `Html`, so a user-controlled string can only ever
 * reach the page as text.
 */

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Markup that is already safe: made only by the `html` tag (or by this module). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  // false / null / undefined render nothing, so `${cond && html`...`}` reads naturally.
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/**
 * Tagged template for markup: the literal parts are trusted, every `${value}`
 * is escaped (strings, numbers), inserted as is (`Html`), joined (arrays) or
 * dropped (`false`, `null`, `undefined`).
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/**
 * The one stylesheet. It is inlined in every page and allowed by its hash, so
 * the CSP needs no 'unsafe-inline' and the pages load nothing from anywhere.
 * Colours meet WCAG AA contrast in both light and dark schemes.
 */
export const STYLESHEET = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#16181d;--muted:#4a5160;--line:#c5cad3;--accent:#0a58ca;--accent-fg:#fff;--danger:#a1161e;--danger-bg:#fdecee;--note-bg:#fff6d6;--note-fg:#5c4300}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#1a1d23;--fg:#eceef2;--muted:#b3b9c5;--line:#3d434e;--accent:#7cb4ff;--accent-fg:#0b1320;--danger:#ffb4b9;--danger-bg:#3a1418;--note-bg:#3a3012;--note-fg:#ffe39a}}
*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
body{margin:0;min-height:100vh;display:flex;flex-direction:column;align-items:center;padding:2rem 1rem}
main{width:100%;max-width:28rem;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.5rem}
header.site{width:100%;max-width:28rem;margin:0 0 .75rem;color:var(--muted);font-size:.875rem}
h1{font-size:1.375rem;line-height:1.3;margin:0 0 1rem}
h2{font-size:1rem;margin:1.25rem 0 .5rem}
p{margin:0 0 1rem}
a{color:var(--accent)}
label{display:block;font-weight:600;margin:0 0 .25rem}
input[type=text],input[type=password],input[type=email]{display:block;width:100%;font:inherit;padding:.625rem .75rem;margin:0 0 1rem;border:1px solid var(--muted);border-radius:8px;background:var(--card);color:var(--fg)}
.check{display:flex;gap:.5rem;align-items:center;margin:0 0 1rem}
.check label{display:inline;font-weight:400;margin:0}
.check input{width:1.125rem;height:1.125rem;margin:0}
button{font:inherit;font-weight:600;padding:.625rem 1rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer;min-height:2.75rem}
button.secondary{background:transparent;color:var(--accent)}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}
.actions button{flex:1 1 8rem}
.block{display:block;width:100%;text-align:left;margin:0 0 .5rem}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.alert{border:1px solid var(--danger);background:var(--danger-bg);color:var(--danger);border-radius:8px;padding:.75rem;margin:0 0 1rem}
.note{background:var(--note-bg);color:var(--note-fg);border-radius:8px;padding:.75rem;margin:0 0 1rem}
.muted{color:var(--muted);font-size:.875rem}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
ul.scopes{padding-left:1.25rem;margin:0 0 1rem}
ul.scopes li{margin:0 0 .5rem}
ul.accounts{list-style:none;padding:0;margin:0 0 1rem}
ul.scopes span{display:block;color:var(--muted);font-size:.875rem}
form{margin:0}
main.wide,header.site.wide{max-width:64rem}
table{width:100%;border-collapse:collapse;margin:0 0 1rem;font-size:.9375rem}
th,td{text-align:left;padding:.375rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.75rem;margin:0 0 1rem}
.figure{border:1px solid var(--line);border-radius:8px;padding:.5rem .75rem}
.figure b{display:block;font-size:1.25rem}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:0 0 1rem}
.row input[type=text],.row input[type=number]{margin:0;width:auto;flex:1 1 12rem}
input[type=number]{font:inherit;padding:.625rem .75rem;border:1px solid var(--muted);border-radius:8px;background:var(--card);color:var(--fg);max-width:7rem}
.row form{display:flex;gap:.5rem;align-items:center}
.row label{margin:0}
.row button,td button{min-height:2.25rem;padding:.375rem .75rem;white-space:nowrap}
nav.bar{display:flex;justify-content:space-between;align-items:center;gap:1rem;margin:0 0 1rem}
.bad{color:var(--danger);font-weight:600}
`.trim();

/** `'sha256-…'` of STYLESHEET, the only style the CSP allows. */
export const STYLE_HASH = `'sha256-${createHash("sha256").update(STYLESHEET, "utf8").digest("base64")}'`;

// RFC 3986 scheme.
const SCHEME = /^[a-z][a-z0-9+.-]*$/i;
// Schemes a page must never be allowed to send a form to (or be redirected to after one).
const REFUSED_SCHEMES = new Set(["javascript", "data", "blob", "filesystem", "about", "file", "vbscript"]);

/**
 * The CSP source expression that allows a form (and the redirect that follows
 * its POST: Chrome applies form-action to it) to reach `uri`: the origin of an
 * http(s) URI, the scheme source `com.example.app:` of a custom-scheme URI.
 * Throws on anything that is not a plain absolute URI, so no string can add
 * a directive or a keyword to the policy.
 */
export function formActionSource(uri: string): string {
  // The URL parser drops tabs and newlines and encodes spaces: refuse them before it sees them.
  // What reaches the policy is only url.origin (ASCII, punycode) or a checked scheme, so other characters are harmless.
  if (/[\s;,'"\\<>`\x00-\x1f\x7f]/.test(uri)) {
    throw new TypeError(`form-action: refusing ${JSON.stringify(uri)} (spaces, quotes, ';' or ',' are not allowed)`);
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`form-action: ${JSON.stringify(uri)} is not an absolute URI`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (!SCHEME.test(scheme) || REFUSED_SCHEMES.has(scheme)) {
    throw new TypeError(`form-action: scheme ${JSON.stringify(scheme)} is not allowed`);
  }
  if (scheme === "http" || scheme === "https") {
    if (url.username || url.password) throw new TypeError("form-action: credentials in the URI are not allowed");
    return url.origin;
  }
  return `${scheme}:`;
}

/** The one policy: nothing loads except our inline stylesheet; forms go to us and to `formAction`. */
export function contentSecurityPolicy(formAction: readonly string[] = []): string {
  const extra = [...new Set(formAction.map(formActionSource))];
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    "img-src 'self' data:",
    ["form-action 'self'", ...extra].join(" "),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

export interface PageOptions {
  /** The document title (escaped). */
  title: string;
  /** The content of <main>. */
  body: Html;
  /** @default 200 */
  status?: number;
  /** Extra response headers (e.g. Set-Cookie); the security headers always win. */
  headers?: ConstructorParameters<typeof Headers>[0];
  /** URIs a form on this page may be sent (or redirected) to, besides our own origin. */
  formAction?: readonly string[];
  /** Shown above the card, e.g. the server's host name (escaped). */
  site?: string;
  /** A wide card for tables (the admin pages). @default false */
  wide?: boolean;
}

/**
 * A complete HTML response with the security headers every page carries.
 * Referrer-Policy is `same-origin`, not `no-referrer`: with no-referrer the
 * browser sends `Origin: null` on our own form POSTs and the CSRF origin check
 * could not tell them from a cross-site post.
 */
export function page(opts: PageOptions): Response {
  const csp = contentSecurityPolicy(opts.formAction);
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>${opts.title}</title>
<style>${new Html(STYLESHEET)}</style>
</head>
<body>
${opts.site ? html`<header class="${opts.wide ? "site wide" : "site"}">${opts.site}</header>` : ""}
<main${opts.wide ? new Html(' class="wide"') : ""}>
${opts.body}
</main>
</body>
</html>
`;
  const headers = new Headers(opts.headers);
  headers.set("content-type", "text/html; charset=utf-8");
  headers.set("content-security-policy", csp);
  headers.set("x-frame-options", "DENY");
  headers.set("referrer-policy", "same-origin");
  headers.set("x-content-type-options", "nosniff");
  headers.set("cache-control", "no-store");
  return new Response(doc.value, { status: opts.status ?? 200, headers });
}
