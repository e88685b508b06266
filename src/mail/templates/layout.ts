/** What every template builds: a subject, a plain-text body and an HTML body. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailTemplate {
  /** Which SMTP transport carries it: account mail or moderation mail. */
  readonly transport: "account" | "moderation";
  /** Variables the template needs; the mailer refuses to send without them (a bug, never user input). */
  readonly requires: readonly string[];
  render(vars: Readonly<Record<string, string>>): RenderedMail;
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * One layout for every message: inline styles only (mail clients drop
 * stylesheets and block remote assets, and we send none). `paragraphs` and
 * `code` are plain text; everything is escaped here.
 */
export function renderMail(opts: { subject: string; hostname: string; paragraphs: readonly string[]; code?: string; footer: string }): RenderedMail {
  const { subject, hostname, paragraphs, code, footer } = opts;
  const text = [...paragraphs, ...(code ? [`    ${code}`] : []), "--", footer].join("\n\n") + "\n";
  const body = [
    ...paragraphs.map((p) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`),
    ...(code
      ? [`<p style="margin:0 0 16px;font:600 24px/1.4 ui-monospace,Menlo,Consolas,monospace;letter-spacing:2px">${escapeHtml(code)}</p>`]
      : []),
    `<p style="margin:24px 0 0;color:#666;font-size:13px">${escapeHtml(footer)}</p>`,
  ].join("\n");
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:24px;background:#f6f6f6;font:16px/1.5 -apple-system,'Segoe UI',Roboto,sans-serif;color:#111">
<div style="max-width:520px;margin:0 auto;padding:24px;background:#fff;border-radius:8px">
<p style="margin:0 0 16px;color:#666;font-size:13px">${escapeHtml(hostname)}</p>
${body}
</div></body></html>
`;
  return { subject, text, html };
}

/** The usual closing line of account mail. */
export const ignoreIfNotYou = "If you did not ask for this, you can ignore this message; nothing changes without the code.";
