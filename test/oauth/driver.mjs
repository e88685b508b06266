/**
 * A real atproto OAuth client signing in to Aurora, run by the Node 22 of
 * ./install.ts: @atproto/oauth-client-node as a loopback development client
 * (a callback server on a free 127.0.0.1 port), Aurora's sign-in and consent
 * pages driven in headless Chromium (playwright-core + the Debian
 * `chromium`), then the OAuth session used through @atproto/api's Agent.
 *
 * Usage: node driver.mjs '<json>' (or the JSON in $OAUTH_DRIVER_INPUT):
 *   installDir    where ./install.ts put node_modules (default: the cwd)
 *   pdsUrl        Aurora's public URL (the issuer and the resource server)
 *   handle, password, plcUrl
 *   steps         which of STEPS to run, in STEPS order (default: all but "banner" and "appview")
 *   nodes         optional direct node URLs (http://localhost:<port>): requests for pdsUrl's origin,
 *                 the client's and the browser's, go to them in turn, so one flow crosses nodes
 *   appView       optional {did}: the AppView the "appview" step proxies app.bsky.actor.getProfile to
 *   screenshotsDir  where oauth-sign-in.png and oauth-consent.png go (none taken without it)
 *   timeoutMs     the whole run (default 120000)
 * Prints ONE JSON line on stdout, {ok, steps: {<name>: {ms, ...}}, nodeHits, error?}; logs go to stderr.
 */
import { randomBytes, createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { deflateSync } from "node:zlib";

/** Every step, in the order they run. */
const STEPS = ["banner", "authorize", "sign-in", "consent", "callback", "post", "blob", "read", "appview", "refresh", "revoke", "deny"];
const DEFAULT_STEPS = STEPS.filter((s) => s !== "banner" && s !== "appview");
const SCOPE = "atproto transition:generic";
const CHROMIUM = "/usr/bin/chromium";

const input = JSON.parse(process.argv[2] ?? process.env.OAUTH_DRIVER_INPUT ?? "null");
if (!input || !input.pdsUrl) throw new Error("usage: node driver.mjs '{\"pdsUrl\": ..., \"handle\": ..., \"password\": ..., \"plcUrl\": ...}'");
const steps = input.steps ?? DEFAULT_STEPS;
for (const s of steps) if (!STEPS.includes(s)) throw new Error(`unknown step "${s}" (steps: ${STEPS.join(", ")})`);
const wanted = new Set(steps);
const log = (line) => process.stderr.write(`[oauth-driver] ${line}\n`);

const installDir = input.installDir ?? process.cwd();
const requireFromInstall = createRequire(join(installDir, "package.json"));
/** A package of the install; CommonJS ones (playwright-core) expose their exports on `default`. */
async function load(pkg) {
  const mod = await import(pathToFileURL(requireFromInstall.resolve(pkg)).href);
  return mod.default && typeof mod.default === "object" ? { ...mod.default, ...mod } : mod;
}

const result = { ok: false, steps: {}, nodeHits: {} };
let finished = false;
/** The one JSON line, then exit: the browser and the servers go with the process. */
function finish(code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(code);
}
setTimeout(() => {
  result.error = { step: current, message: `the driver took more than ${input.timeoutMs ?? 120_000} ms` };
  finish(1);
}, input.timeoutMs ?? 120_000).unref();

let current = "setup";
/** Run `fn` as step `name` if it was asked for, recording its duration and what it returned. */
async function step(name, fn) {
  if (!wanted.has(name)) return undefined;
  current = name;
  const t0 = performance.now();
  log(name);
  const details = (await fn()) ?? {};
  result.steps[name] = { ms: Math.round(performance.now() - t0), ...details };
  return details;
}
/** A step that needs an earlier one's output. */
function need(value, what) {
  if (value === undefined) throw new Error(`step "${current}" needs ${what}: add the earlier step to "steps"`);
  return value;
}

// --- Routing: with `nodes`, requests for the public origin go to each node in turn.
const publicOrigin = new URL(input.pdsUrl).origin;
const nodes = (input.nodes ?? []).map((u) => new URL(u).origin);
let turn = 0;
function route(url, who) {
  const u = new URL(url);
  if (nodes.length === 0 || u.origin !== publicOrigin) return url;
  const node = nodes[turn++ % nodes.length];
  const key = `${who} ${node}`;
  result.nodeHits[key] = (result.nodeHits[key] ?? 0) + 1;
  return `${node}${u.pathname}${u.search}`;
}
/** The client's fetch: DPoP proofs are already on the request (their htu stays the public URL). */
async function clientFetch(input, init) {
  const request = new Request(input, init);
  const target = route(request.url, "client");
  if (target === request.url) return fetch(request);
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  return fetch(target, { method: request.method, headers: request.headers, body, redirect: request.redirect, signal: request.signal });
}

// --- A loopback callback server: the browser lands here after Allow / Deny.
const callbacks = [];
let waiting;
const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (url.pathname !== "/callback") {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!doctype html><title>Signed in</title><p>You can close this window.</p>");
  const params = new URLSearchParams(url.search || url.hash.slice(1));
  if (waiting) waiting(params);
  else callbacks.push(params);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;
/** The next callback the browser makes, or an error after `ms`. */
function nextCallback(ms = 30_000) {
  if (callbacks.length > 0) return Promise.resolve(callbacks.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no callback to ${redirectUri} within ${ms} ms`)), ms);
    waiting = (params) => {
      clearTimeout(timer);
      waiting = undefined;
      resolve(params);
    };
  });
}

// --- The browser (launched inside the try below, so a launch failure is reported too).
let browser;
let page;
async function openBrowser() {
  const { chromium } = await load("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--headless"] });
  const context = await browser.newContext({ viewport: { width: 900, height: 760 }, deviceScaleFactor: 1, locale: "en-US" });
  if (nodes.length > 0) {
    await context.route(
      (url) => url.origin === publicOrigin,
      async (r) => {
        const response = await r.fetch({ url: route(r.request().url(), "browser"), maxRedirects: 0 });
        await r.fulfill({ response });
      },
    );
  }
  page = await context.newPage();
}
if (input.screenshotsDir) mkdirSync(input.screenshotsDir, { recursive: true });
async function screenshot(name) {
  if (!input.screenshotsDir) return undefined;
  const path = join(input.screenshotsDir, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}
/**
 * page.goto, except that with `nodes` a redirect answered by the route above
 * makes Chromium report the first load as failed (net::ERR_CONNECTION_REFUSED)
 * while it goes on to follow the redirect: the caller waits for what it expects instead.
 */
async function visit(url) {
  try {
    return await page.goto(url);
  } catch (err) {
    if (nodes.length === 0) throw err;
    log(`goto ${url}: ${String(err.message).split("\n")[0]} (routed; waiting for the page instead)`);
    return undefined;
  }
}
/** What the page shows, for error reports. */
async function pageState() {
  if (!page) return undefined;
  const text = await page.locator("body").innerText({ timeout: 2_000 }).catch(() => "");
  return { url: page.url(), title: await page.title().catch(() => ""), text: text.slice(0, 600) };
}

try {
  current = "browser";
  const t0 = performance.now();
  await openBrowser();
  result.browserLaunchMs = Math.round(performance.now() - t0);

  await step("banner", async () => {
    const response = await visit(`${input.pdsUrl}/`);
    const text = await page.locator("body").innerText();
    return { status: response?.status(), text: text.split("\n")[0], screenshot: await screenshot("banner.png") };
  });

  // --- The OAuth client.
  const oauth = await load("@atproto/oauth-client-node");
  const { Agent } = await load("@atproto/api");
  /** A SimpleStore kept in memory: the driver reads what the client saved (tokens, DPoP key). */
  const memoryStore = () => {
    const map = new Map();
    return { map, get: async (k) => map.get(k), set: async (k, v) => void map.set(k, v), del: async (k) => void map.delete(k) };
  };
  const stateStore = memoryStore();
  const sessionStore = memoryStore();
  const clientId = `http://localhost?redirect_uri=${encodeURIComponent(redirectUri)}&scope=${encodeURIComponent(SCOPE)}`;
  const client = new oauth.NodeOAuthClient({
    clientMetadata: {
      client_id: clientId,
      redirect_uris: [redirectUri],
      scope: SCOPE,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
      dpop_bound_access_tokens: true,
    },
    stateStore,
    sessionStore,
    requestLock: oauth.requestLocalLock,
    allowHttp: true,
    plcDirectoryUrl: input.plcUrl,
    // `.test` handles have no DNS: the PDS resolves its own (com.atproto.identity.resolveHandle).
    handleResolver: input.pdsUrl,
    fetch: clientFetch,
  });

  const authorized = await step("authorize", async () => {
    const url = await client.authorize(input.handle, { scope: SCOPE, state: "e2e-state" });
    return { url: url.href, endpoint: `${url.origin}${url.pathname}`, requestUri: url.searchParams.get("request_uri"), clientId: url.searchParams.get("client_id") };
  });

  await step("sign-in", async () => {
    const { url } = need(authorized, "an authorization URL (step authorize)");
    const response = await visit(url);
    const identifier = page.locator('input[name="identifier"]');
    await identifier.waitFor({ timeout: 10_000 });
    const prefilled = await identifier.inputValue();
    const shot = await screenshot("oauth-sign-in.png");
    await identifier.fill(input.handle);
    await page.locator('input[name="password"]').fill(input.password);
    await page.locator('input[name="remember"]').check();
    await page.getByRole("button", { name: "Sign in" }).click();
    return { status: response?.status(), title: await page.title(), prefilled, screenshot: shot };
  });

  await step("consent", async () => {
    const allow = page.getByRole("button", { name: "Allow" });
    await allow.waitFor({ timeout: 10_000 });
    const text = await page.locator("body").innerText();
    const shot = await screenshot("oauth-consent.png");
    await allow.click();
    return { title: await page.title(), mentionsHandle: text.includes(input.handle), screenshot: shot };
  });

  const session = await step("callback", async () => {
    const params = await nextCallback();
    const { session: s, state } = await client.callback(params);
    const info = await s.getTokenInfo(false);
    const stored = sessionStore.map.get(s.did);
    return {
      session: s,
      params: [...params.keys()].sort(),
      iss: params.get("iss"),
      state,
      did: s.did,
      scope: info.scope,
      aud: info.aud,
      sub: info.sub,
      expiresInSeconds: info.expiresAt ? Math.round((info.expiresAt.getTime() - Date.now()) / 1000) : null,
      tokenType: stored?.tokenSet.token_type,
      hasRefreshToken: Boolean(stored?.tokenSet.refresh_token),
    };
  }).then((d) => {
    if (!d) return undefined;
    const { session: s, ...rest } = d;
    result.steps.callback = { ms: result.steps.callback.ms, ...rest };
    return s;
  });
  const agent = session ? new Agent(session) : undefined;

  const posted = await step("post", async () => {
    const a = need(agent, "an OAuth session (step callback)");
    const text = `hello from an OAuth client ${new Date().toISOString()}`;
    const res = await a.com.atproto.repo.createRecord({ repo: a.assertDid, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() } });
    return { uri: res.data.uri, cid: res.data.cid, text };
  });

  const withBlob = await step("blob", async () => {
    const a = need(agent, "an OAuth session (step callback)");
    const png = tinyPng();
    const uploaded = await a.com.atproto.repo.uploadBlob(png, { encoding: "image/png" });
    const blob = uploaded.data.blob;
    const text = "a post with an image, from an OAuth client";
    const res = await a.com.atproto.repo.createRecord({
      repo: a.assertDid,
      collection: "app.bsky.feed.post",
      record: {
        $type: "app.bsky.feed.post",
        text,
        createdAt: new Date().toISOString(),
        embed: { $type: "app.bsky.embed.images", images: [{ image: blob, alt: "one red pixel", aspectRatio: { width: 1, height: 1 } }] },
      },
    });
    return { uri: res.data.uri, cid: res.data.cid, blobCid: blob.ref.toString(), mimeType: blob.mimeType, size: blob.size, bytes: png.length };
  });

  await step("read", async () => {
    const a = need(agent, "an OAuth session (step callback)");
    const out = {};
    for (const [name, written] of [["post", posted], ["blob", withBlob]]) {
      if (!written) continue;
      const rkey = written.uri.split("/").pop();
      const { data } = await a.com.atproto.repo.getRecord({ repo: a.assertDid, collection: "app.bsky.feed.post", rkey });
      out[name] = { cid: data.cid, sameCid: data.cid === written.cid, text: data.value.text, embedBlob: data.value.embed?.images?.[0]?.image?.ref?.toString() };
    }
    if (withBlob) {
      const res = await a.com.atproto.sync.getBlob({ did: a.assertDid, cid: withBlob.blobCid });
      out.blobBytesMatch = Buffer.from(res.data).equals(tinyPng());
    }
    return out;
  });

  await step("appview", async () => {
    const a = need(agent, "an OAuth session (step callback)");
    const proxied = input.appView?.did ? a.withProxy("bsky_appview", input.appView.did) : a;
    const { data } = await proxied.app.bsky.actor.getProfile({ actor: a.assertDid });
    return { did: data.did, handle: data.handle };
  });

  await step("refresh", async () => {
    const s = need(session, "an OAuth session (step callback)");
    const before = { ...sessionStore.map.get(s.did).tokenSet };
    const info = await s.getTokenInfo(true);
    const after = sessionStore.map.get(s.did).tokenSet;
    // The new access token works.
    const { data } = await agent.com.atproto.repo.describeRepo({ repo: s.did });
    return {
      accessChanged: before.access_token !== after.access_token,
      refreshRotated: before.refresh_token !== after.refresh_token,
      expiresAtBefore: before.expires_at,
      expiresAtAfter: after.expires_at,
      scope: info.scope,
      callAfterRefresh: data.did === s.did,
    };
  });

  await step("revoke", async () => {
    const s = need(session, "an OAuth session (step callback)");
    const saved = sessionStore.map.get(s.did);
    const { access_token: access, refresh_token: refresh } = saved.tokenSet;
    // The session's own DPoP key (the one its tokens are bound to), kept for the checks after signOut.
    const key = s.server.dpopKey;
    await s.signOut();
    const targets = nodes.length > 0 ? nodes : [publicOrigin];
    const tokenEndpoint = s.serverMetadata.token_endpoint;
    // A method that needs a token: describeRepo takes none and would answer whatever the token.
    const resource = `${input.pdsUrl}/xrpc/com.atproto.server.getSession`;
    const afterRevoke = [];
    for (const target of targets) {
      const xrpc = await dpopCall(key, target, "GET", resource, { authorization: `DPoP ${access}` });
      const token = await dpopCall(key, target, "POST", tokenEndpoint, { "content-type": "application/x-www-form-urlencoded" }, new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh, client_id: clientId }).toString());
      afterRevoke.push({ node: target, access: xrpc, refresh: token });
    }
    let sessionAfter = "still usable";
    try {
      await agent.com.atproto.repo.describeRepo({ repo: s.did });
    } catch (err) {
      sessionAfter = err.constructor?.name ?? String(err);
    }
    return { afterRevoke, sessionAfter, storeEmpty: !sessionStore.map.has(s.did) };
  });

  await step("deny", async () => {
    // The same browser, whose device now remembers the account: choose it, then Deny.
    // Consent was given before, so only prompt=consent brings the consent page back.
    const url = await client.authorize(input.handle, { scope: SCOPE, state: "e2e-deny", prompt: "consent" });
    await visit(url.href);
    const chooser = page.getByRole("button", { name: input.handle });
    const deny = page.getByRole("button", { name: "Deny" });
    await chooser.or(deny).first().waitFor({ timeout: 10_000 });
    const choseAccount = await chooser.isVisible();
    if (choseAccount) await chooser.click();
    await deny.waitFor({ timeout: 10_000 });
    await deny.click();
    const params = await nextCallback();
    let error = null;
    try {
      await client.callback(params);
    } catch (err) {
      error = { name: err.constructor?.name, error: err.params?.get?.("error") ?? null, state: err.state ?? null };
    }
    return { choseAccount, params: Object.fromEntries([...params].filter(([k]) => k !== "iss")), iss: params.get("iss"), error };
  });

  result.ok = true;
} catch (err) {
  result.error = { step: current, name: err?.constructor?.name, message: String(err?.message ?? err), cause: err?.cause ? String(err.cause?.message ?? err.cause) : undefined, stack: String(err?.stack ?? "").split("\n").slice(0, 6).join(" | "), page: await pageState() };
  if (input.screenshotsDir && page) await screenshot(`failed-${current}.png`).catch(() => {});
} finally {
  await browser?.close().catch(() => {});
  server.close();
}
finish(result.ok ? 0 : 1);

/**
 * One request with a DPoP proof signed by `key` (the revoked session's key),
 * sent to `target` while the proof names the public URL; a nonce refusal is
 * answered once with the nonce given. Returns {status, error, nonceRetried}.
 */
async function dpopCall(key, target, method, url, headers, body) {
  let nonce;
  let nonceRetried = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    const u = new URL(url);
    const payload = { jti: randomBytes(16).toString("base64url"), htm: method, htu: `${u.origin}${u.pathname}`, iat: Math.floor(Date.now() / 1000) };
    if (nonce) payload.nonce = nonce;
    if (headers.authorization) payload.ath = createHash("sha256").update(headers.authorization.slice("DPoP ".length)).digest("base64url");
    // The alg the client negotiated for this key (the first of the server's list the key can do).
    const proof = await key.createJwt({ alg: key.algorithms.find((a) => /^(ES|PS|RS)\d+K?$|^EdDSA$/.test(a)), typ: "dpop+jwt", jwk: key.bareJwk }, payload);
    const res = await fetch(`${target}${u.pathname}${u.search}`, { method, headers: { ...headers, dpop: proof }, body });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    const fresh = res.headers.get("dpop-nonce");
    const wantsNonce = json?.error === "use_dpop_nonce" || /use_dpop_nonce/.test(res.headers.get("www-authenticate") ?? "");
    if (wantsNonce && fresh && attempt === 0) {
      nonce = fresh;
      nonceRetried = true;
      continue;
    }
    return { status: res.status, error: json?.error ?? null, wwwAuthenticate: res.headers.get("www-authenticate"), nonceRetried };
  }
  throw new Error("unreachable");
}

/** A valid 1x1 red PNG, built here (signature, IHDR, IDAT, IEND, each chunk with its CRC). */
function tinyPng() {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  // One scanline: filter byte 0, then R G B.
  const idat = deflateSync(Buffer.from([0, 255, 0, 0]));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]);
}

