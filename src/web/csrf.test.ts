import { describe, expect, test } from "bun:test";
import { OAuthError } from "@/oauth/errors.ts";
import { checkCsrf, csrfToken, readForm } from "@/web/csrf.ts";

const secret = "s3cret";
const publicUrl = "http://localhost:2583";
const binding = "device-1|urn:ietf:params:oauth:request_uri:req-1";

function post(headers: Record<string, string>): Request {
  return new Request(`${publicUrl}/oauth/authorize`, { method: "POST", headers });
}

describe("csrf", () => {
  const token = csrfToken(secret, binding);
  const form = new URLSearchParams({ csrf: token });

  test("the token is base64url, stable, and depends on secret and binding", () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrfToken(secret, binding)).toBe(token);
    expect(csrfToken(secret, "other")).not.toBe(token);
    expect(csrfToken("other", binding)).not.toBe(token);
  });

  test("round trip with our Origin", () => {
    expect(checkCsrf(post({ origin: publicUrl }), form, { secret, binding, publicUrl })).toBe(true);
    // publicUrl with a path still means the same origin.
    expect(checkCsrf(post({ origin: publicUrl }), form, { secret, binding, publicUrl: `${publicUrl}/` })).toBe(true);
  });

  test.each([
    ["wrong binding", { origin: publicUrl }, form, "other-binding"],
    ["missing token", { origin: publicUrl }, new URLSearchParams(), binding],
    ["truncated token", { origin: publicUrl }, new URLSearchParams({ csrf: token.slice(0, -1) }), binding],
    ["cross-origin Origin", { origin: "https://evil.example" }, form, binding],
    ["Origin on another port", { origin: "http://localhost:2584" }, form, binding],
    ["Origin null", { origin: "null" }, form, binding],
    ["no Origin, cross-site fetch", { "sec-fetch-site": "cross-site" }, form, binding],
    ["no Origin, same-site fetch", { "sec-fetch-site": "same-site" }, form, binding],
    ["no Origin, no Sec-Fetch-Site", {}, form, binding],
    ["Origin wrong even with Sec-Fetch-Site same-origin", { origin: "https://evil.example", "sec-fetch-site": "same-origin" }, form, binding],
  ])("refuses: %s", (_name, headers, f, b) => {
    expect(checkCsrf(post(headers), f, { secret, binding: b, publicUrl })).toBe(false);
  });

  test("no Origin but Sec-Fetch-Site: same-origin is accepted", () => {
    expect(checkCsrf(post({ "sec-fetch-site": "same-origin" }), form, { secret, binding, publicUrl })).toBe(true);
  });
});

describe("readForm", () => {
  const formType = { "content-type": "application/x-www-form-urlencoded" };

  test("reads a urlencoded body", async () => {
    const req = new Request(publicUrl, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded; charset=UTF-8" }, body: "a=1&b=%C3%A9+x" });
    const form = await readForm(req);
    expect(form.get("a")).toBe("1");
    expect(form.get("b")).toBe("é x");
  });

  test.each([
    ["no content type", {}],
    ["JSON", { "content-type": "application/json" }],
    ["multipart", { "content-type": "multipart/form-data; boundary=x" }],
  ])("refuses %s with 415", async (_name, headers) => {
    const err = await readForm(new Request(publicUrl, { method: "POST", headers, body: "a=1" })).catch((e) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.status).toBe(415);
  });

  test("a body at the limit is read; one byte more is refused with 413", async () => {
    const ok = await readForm(new Request(publicUrl, { method: "POST", headers: formType, body: `a=${"x".repeat(98)}` }), 100);
    expect(ok.get("a")).toHaveLength(98);
    const err = await readForm(new Request(publicUrl, { method: "POST", headers: formType, body: `a=${"x".repeat(99)}` }), 100).catch((e) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.status).toBe(413);
  });

  test("a streamed body without Content-Length is cut off at the limit", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 1000) return controller.close();
        controller.enqueue(new TextEncoder().encode("a=".padEnd(1024, "x")));
      },
    });
    const req = new Request(publicUrl, { method: "POST", headers: formType, body });
    const err = await readForm(req, 4096).catch((e) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.status).toBe(413);
    expect(pulled).toBeLessThan(10);
  });

  test("a declared Content-Length over the limit is refused before reading", async () => {
    const req = new Request(publicUrl, { method: "POST", headers: { ...formType, "content-length": "100000" }, body: "a=1" });
    const err = await readForm(req, 1000).catch((e) => e);
    expect(err.status).toBe(413);
  });
});
