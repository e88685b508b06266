import { describe, expect, test } from "bun:test";
import { STYLE_HASH } from "@/web/layout.ts";
import { type ClientView, chooserPage, consentPage, errorPage, signInPage } from "@/web/oauth-pages.ts";

const EVIL = `<img src=x onerror=alert(1)>"'&`;
const ESCAPED = "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;";
const client: ClientView = { clientId: "https://app.example.com/client-metadata.json", name: "Example App", loopback: false };
const base = { csrf: "tok-123", requestUri: "urn:ietf:params:oauth:request_uri:req-abc", client, serverName: "pds.example" };

interface Form {
  method?: string;
  action?: string;
  fields: { tag: string; attrs: Record<string, string> }[];
}

/** Every form of a page with its inputs and buttons, read by Bun's HTML parser (attribute values stay as written, entities included). */
async function formsOf(res: Response): Promise<{ html: string; forms: Form[]; ids: Set<string>; labelsFor: string[] }> {
  const html = await res.clone().text();
  const forms: Form[] = [];
  const ids = new Set<string>();
  const labelsFor: string[] = [];
  const attrs = (el: HTMLRewriterTypes.Element) => Object.fromEntries([...el.attributes]);
  await new HTMLRewriter()
    .on("form", { element: (el) => void forms.push({ method: el.getAttribute("method") ?? undefined, action: el.getAttribute("action") ?? undefined, fields: [] }) })
    .on("input, button", { element: (el) => void forms.at(-1)?.fields.push({ tag: el.tagName, attrs: attrs(el) }) })
    .on("[id]", { element: (el) => void ids.add(el.getAttribute("id")!) })
    .on("label[for]", { element: (el) => void labelsFor.push(el.getAttribute("for")!) })
    .transform(res)
    .text();
  return { html, forms, ids, labelsFor };
}

const hiddenOf = (f: Form) =>
  Object.fromEntries(f.fields.filter((x) => x.attrs.type === "hidden").map((x) => [x.attrs.name, x.attrs.value]));
const field = (f: Form, name: string) => f.fields.find((x) => x.attrs.name === name)?.attrs;

function expectCommon(res: Response, hosts: string[] = []) {
  expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(res.headers.get("content-security-policy")).toBe(
    `default-src 'none'; style-src ${STYLE_HASH}; img-src 'self' data:; form-action ${["'self'", ...hosts].join(" ")}; frame-ancestors 'none'; base-uri 'none'`,
  );
  expect(res.headers.get("x-frame-options")).toBe("DENY");
}

function expectAuthorizeForm(f: Form) {
  expect(f.method).toBe("post");
  expect(f.action).toBe("/oauth/authorize");
  const h = hiddenOf(f);
  expect(h.csrf).toBe(base.csrf);
  expect(h.request_uri).toBe(base.requestUri);
  expect(h.client_id).toBe(client.clientId);
}

describe("signInPage", () => {
  test("the form contract, labelled fields, no code field unless asked", async () => {
    const res = signInPage(base);
    expect(res.status).toBe(200);
    expectCommon(res);
    const { html, forms, labelsFor } = await formsOf(res);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain("<h1>Sign in</h1>");
    expect(html).not.toContain('role="alert"');
    expect(forms).toHaveLength(1);
    const f = forms[0]!;
    expectAuthorizeForm(f);
    expect(hiddenOf(f).action).toBe("sign-in");
    expect(field(f, "identifier")).toMatchObject({ id: "identifier", autocomplete: "username" });
    expect(field(f, "password")).toMatchObject({ id: "password", type: "password", autocomplete: "current-password" });
    expect(field(f, "remember")).toMatchObject({ id: "remember", type: "checkbox", value: "on" });
    expect(field(f, "code")).toBeUndefined();
    expect(field(f, "identifier")).toHaveProperty("autofocus");
    expect(labelsFor).toEqual(["identifier", "password", "remember"]);
    expect(html).toContain('<label for="remember">Stay signed in on this device</label>');
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).toContain("Example App");
    expect(html).toContain("app.example.com");
  });

  test("with needCode: the emailed-code sentence and a one-time-code field", async () => {
    const { html, forms, labelsFor } = await formsOf(signInPage({ ...base, identifier: "alice.test", needCode: true, codeHint: "a***@example.com" }));
    const f = forms[0]!;
    expect(field(f, "code")).toMatchObject({ id: "code", autocomplete: "one-time-code", "aria-describedby": "code-help" });
    expect(field(f, "code")).toHaveProperty("autofocus");
    expect(field(f, "identifier")).not.toHaveProperty("autofocus");
    expect(field(f, "identifier")!.value).toBe("alice.test");
    expect(html).toContain("A sign-in code was emailed to a***@example.com.");
    expect(labelsFor).toContain("code");
  });

  test("escapes a hostile client name, identifier, error and code hint; the error is an alert", async () => {
    const evilClient: ClientView = { clientId: "https://evil.example/c.json", name: EVIL, uri: "javascript:alert(1)", loopback: false };
    const res = signInPage({ ...base, client: evilClient, identifier: EVIL, error: EVIL, needCode: true, codeHint: EVIL, serverName: EVIL });
    const { html } = await formsOf(res);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("javascript:");
    expect(html).toContain(`<div class="alert" role="alert">${ESCAPED}</div>`);
    expect(html).toContain(`value="${ESCAPED}"`);
    expect(html).toContain("evil.example");
  });

  test("a loopback client is flagged as a development app", async () => {
    const loop: ClientView = { clientId: "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb", loopback: true };
    const { html } = await formsOf(signInPage({ ...base, client: loop }));
    expect(html).toContain("development app");
    expect(html).toContain('<strong class="mono">localhost</strong>');
  });
});

describe("chooserPage", () => {
  test("one select form per account and a form for another account", async () => {
    const accounts = [{ did: "did:plc:alice", handle: "alice.test" }, { did: "did:plc:bob", handle: EVIL }];
    const res = chooserPage({ ...base, accounts });
    expectCommon(res);
    const { html, forms } = await formsOf(res);
    expect(forms).toHaveLength(3);
    forms.forEach(expectAuthorizeForm);
    expect(forms.map((f) => hiddenOf(f).action)).toEqual(["select", "select", "another"]);
    expect(forms.map((f) => hiddenOf(f).did)).toEqual(["did:plc:alice", "did:plc:bob", undefined]);
    expect(html).toContain('<button type="submit" class="block secondary">@alice.test</button>');
    expect(html).toContain(`@${ESCAPED}</button>`);
    expect(html).not.toContain("<img");
    expect(html).toContain("Use another account</button>");
  });
});

describe("consentPage", () => {
  const consent = {
    ...base,
    account: { did: "did:plc:alice", handle: "alice.test" },
    scopes: "atproto transition:generic",
    redirectUri: "https://app.example.com/oauth/callback",
  };

  test("client, account, scope lines, one form with did and Allow/Deny buttons; CSP lists the redirect", async () => {
    const res = consentPage(consent);
    expectCommon(res, ["https://app.example.com"]);
    const { html, forms } = await formsOf(res);
    expect(forms).toHaveLength(1);
    const f = forms[0]!;
    expectAuthorizeForm(f);
    expect(hiddenOf(f).did).toBe("did:plc:alice");
    expect(hiddenOf(f).action).toBeUndefined();
    const buttons = f.fields.filter((x) => x.tag === "button").map((x) => [x.attrs.name, x.attrs.value]);
    expect(buttons).toEqual([["action", "deny"], ["action", "allow"]]);
    expect(html).toMatch(/<button type="submit" name="action" value="allow">Allow<\/button>/);
    expect(html).toMatch(/<button [^>]*name="action" value="deny"[^>]*>Deny<\/button>/);
    expect(html).toContain("@alice.test");
    expect(html).toContain("Know which account is yours");
    expect(html).toContain("Full access to your account, like an app password");
  });

  test("a custom-scheme redirect is listed as its scheme source", () => {
    const res = consentPage({ ...consent, redirectUri: "com.example.app:/cb" });
    expectCommon(res, ["com.example.app:"]);
  });

  test.each(["https://app.example.com/cb; script-src *", "https://app.example.com/cb x", "javascript:alert(1)"])(
    "refuses a redirect URI that could inject CSP: %p",
    (redirectUri) => {
      expect(() => consentPage({ ...consent, redirectUri })).toThrow(TypeError);
    },
  );

  test("a hostile name cannot pass for another app: the client_id host is always shown", async () => {
    const spoof: ClientView = { clientId: "https://evil.example/c.json", name: "Bluesky <b>Official</b>", loopback: false };
    const { html } = await formsOf(consentPage({ ...consent, client: spoof, account: { did: "did:plc:x", handle: EVIL }, scopes: `atproto ${EVIL}` }));
    expect(html).toContain("Bluesky &lt;b&gt;Official&lt;/b&gt;");
    expect(html).toContain('<span class="mono">evil.example</span>');
    expect(html).not.toContain("<img");
    expect(html).toContain(`@${ESCAPED}`);
  });
});

describe("errorPage", () => {
  test("status, title and an alert, escaped", async () => {
    const res = errorPage({ title: EVIL, message: EVIL, status: 400, serverName: "pds.example" });
    expect(res.status).toBe(400);
    expectCommon(res);
    const html = await res.text();
    expect(html).toContain(`<h1>${ESCAPED}</h1>`);
    expect(html).toContain(`<div class="alert" role="alert">${ESCAPED}</div>`);
    expect(html).not.toContain("<img");
  });
});
