/**
 * Writes every OAuth page's HTML (with sample data) to a directory, so they
 * can be opened or screenshotted without a running server:
 *   bun test/oauth/render-pages.ts [outDir]   (default: a new temp dir)
 * Prints one line per file. The CSP travels as a <meta> tag, so a browser
 * opening the file applies the same policy the server sends.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientView, chooserPage, consentPage, errorPage, signInPage } from "@/web/oauth-pages.ts";

const outDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "aurora-pages-"));
mkdirSync(outDir, { recursive: true });

const client: ClientView = { clientId: "https://app.example.com/client-metadata.json", name: "Example App", uri: "https://app.example.com", loopback: false };
const loopback: ClientView = { clientId: "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb", loopback: true };
const base = { csrf: "csrf-token", requestUri: "urn:ietf:params:oauth:request_uri:req-sample", client, serverName: "pds.example.com" };
const account = { did: "did:plc:abcdefghijklmnopqrstuvwx", handle: "alice.example.com" };

const pages: Record<string, Response> = {
  "sign-in": signInPage(base),
  "sign-in-error": signInPage({ ...base, identifier: "alice.example.com", error: "Wrong handle or password." }),
  "sign-in-code": signInPage({ ...base, identifier: "alice.example.com", needCode: true, codeHint: "a***@example.com" }),
  "sign-in-loopback": signInPage({ ...base, client: loopback }),
  chooser: chooserPage({ ...base, accounts: [account, { did: "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", handle: "bob.example.com" }] }),
  consent: consentPage({ ...base, account, scopes: "atproto transition:generic", redirectUri: "https://app.example.com/oauth/callback" }),
  "consent-granular": consentPage({
    ...base,
    account,
    scopes: "atproto repo:app.bsky.feed.post?action=create blob:image/* rpc:app.bsky.feed.getTimeline?aud=did:web:api.bsky.app%23bsky_appview account:email identity:handle",
    redirectUri: "com.example.app:/cb",
  }),
  error: errorPage({ title: "This sign-in link has expired", message: "The authorization request is no longer valid.", status: 400, serverName: "pds.example.com" }),
};

for (const [name, res] of Object.entries(pages)) {
  const csp = res.headers.get("content-security-policy")!;
  // frame-ancestors is ignored in <meta>; the rest of the policy applies to the file as served.
  const meta = `<meta http-equiv="Content-Security-Policy" content="${csp.replaceAll('"', "&quot;")}">`;
  const html = (await res.text()).replace('<meta charset="utf-8">', `<meta charset="utf-8">\n${meta}`);
  const file = join(outDir, `${name}.html`);
  writeFileSync(file, html);
  console.log(file);
}
