import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { contentSecurityPolicy, escapeHtml, formActionSource, html, Html, page, STYLE_HASH } from "@/web/layout.ts";

describe("html", () => {
  test("escapes interpolated strings, keeps Html, joins arrays, drops false/null/undefined", () => {
    const evil = `<script>alert("x")</script>'&`;
    const out = html`<p title="${evil}">${evil}${html`<b>ok</b>`}${["a", html`<i>b</i>`]}${false}${null}${undefined}${3}</p>`;
    expect(out).toBeInstanceOf(Html);
    expect(out.value).toBe(
      `<p title="${escapeHtml(evil)}">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;<b>ok</b>a<i>b</i>3</p>`,
    );
  });
});

describe("page", () => {
  test("carries the security headers and a CSP whose style hash matches the served stylesheet", async () => {
    const res = page({ title: "T <x>", body: html`<h1>Hi</h1>`, site: "pds.example" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("same-origin");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toBe(
      `default-src 'none'; style-src ${STYLE_HASH}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    const body = await res.text();
    expect(body).toStartWith("<!doctype html>\n<html lang=\"en\">");
    expect(body).toContain("<title>T &lt;x&gt;</title>");
    const styles = [...body.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(styles).toHaveLength(1);
    const served = `'sha256-${createHash("sha256").update(styles[0]!).digest("base64")}'`;
    expect(csp).toContain(`style-src ${served};`);
    // Nothing external: no scripts, no remote links or sources.
    expect(body).not.toMatch(/<script|https?:\/\/|src=/i);
  });

  test("status and extra headers; the security headers cannot be overridden", () => {
    const res = page({
      title: "x",
      body: html``,
      status: 404,
      headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-frame-options", "SAMEORIGIN"]],
    });
    expect(res.status).toBe(404);
    expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });
});

describe("form-action sources", () => {
  test.each([
    ["https://app.example.com/oauth/callback?x=1", "https://app.example.com"],
    ["http://127.0.0.1:8080/cb", "http://127.0.0.1:8080"],
    ["HTTPS://App.Example.com:443/cb", "https://app.example.com"],
    ["https://bücher.example/é", "https://xn--bcher-kva.example"],
    ["com.example.app:/cb", "com.example.app:"],
    ["com.example.app:/oauth/cb#frag", "com.example.app:"],
  ])("%s → %s", (uri, source) => {
    expect(formActionSource(uri)).toBe(source);
    expect(contentSecurityPolicy([uri])).toContain(`form-action 'self' ${source};`);
  });

  test.each([
    "https://a.example/cb; script-src *",
    "https://a.example/cb script-src",
    "https://a.example/\tcb",
    "https://a.example/cb\n",
    "https://a.example/cb,x",
    "https://a.example/'unsafe-inline'",
    "'self'",
    "/relative/cb",
    "javascript:alert(1)",
    "data:text/html,x",
    "https://user:pw@a.example/cb",
    "https://a.example/\u00a0cb",
  ])("refuses %p", (uri) => {
    expect(() => formActionSource(uri)).toThrow(TypeError);
    expect(() => page({ title: "x", body: html``, formAction: [uri] })).toThrow(TypeError);
  });

  test("duplicates are listed once", () => {
    expect(contentSecurityPolicy(["https://a.example/1", "https://a.example/2"])).toContain(
      "form-action 'self' https://a.example;",
    );
  });
});
