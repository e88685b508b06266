/**
 * Drives Aurora's admin page in headless Chromium (playwright-core + the
 * Debian `chromium`, from the install of test/oauth/install.ts), run by its
 * Node 22: sign in (a wrong password first), search an account by handle,
 * open it, take it down, see its status change, sign out.
 *
 * Input (JSON in $ADMIN_DRIVER_INPUT): installDir, url (Aurora's public URL),
 * password (the admin password), handle (the account to find), screenshotsDir
 * (admin-*.png go there; none without it), timeoutMs.
 * Prints ONE JSON line on stdout, {ok, steps: {<name>: {...}}, cspViolations, error?}.
 */
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const CHROMIUM = "/usr/bin/chromium";
const input = JSON.parse(process.env.ADMIN_DRIVER_INPUT ?? "null");
if (!input?.url) throw new Error("ADMIN_DRIVER_INPUT needs {url, password, handle}");
const requireFromInstall = createRequire(join(input.installDir ?? process.cwd(), "package.json"));

const result = { ok: false, steps: {}, cspViolations: [] };
let current = "launch";
let finished = false;
function finish(code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(code);
}
setTimeout(() => {
  result.error = { step: current, message: `the driver took more than ${input.timeoutMs ?? 60_000} ms` };
  finish(1);
}, input.timeoutMs ?? 60_000).unref();

let page;
async function screenshot(name) {
  if (!input.screenshotsDir) return undefined;
  mkdirSync(input.screenshotsDir, { recursive: true });
  const path = join(input.screenshotsDir, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

async function step(name, fn) {
  current = name;
  result.steps[name] = await fn();
}

try {
  const mod = await import(pathToFileURL(requireFromInstall.resolve("playwright-core")).href);
  const { chromium } = mod.default ?? mod;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--headless"] });
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, deviceScaleFactor: 1, locale: "en-US" });
  page = await context.newPage();
  // A blocked style or script shows up here: the page must need nothing its CSP refuses.
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) result.cspViolations.push(msg.text());
  });

  await step("sign-in-page", async () => {
    const response = await page.goto(`${input.url}/admin`);
    // The hashed inline stylesheet applied: the card has its rounded border.
    const radius = await page.$eval("main", (el) => getComputedStyle(el).borderTopLeftRadius);
    return { status: response.status(), title: await page.title(), styled: radius === "12px", screenshot: await screenshot("admin-sign-in.png") };
  });

  await step("wrong-password", async () => {
    await page.fill("#password", "not-the-admin-password");
    await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
    return { alert: (await page.textContent(".alert"))?.trim() };
  });

  await step("sign-in", async () => {
    await page.fill("#password", input.password);
    await Promise.all([page.waitForURL(`${input.url}/admin`), page.click("button[type=submit]")]);
    await page.waitForSelector("text=Recent moderation actions");
    const cookie = (await context.cookies(`${input.url}/admin`)).find((c) => c.name === "aurora-admin");
    const shot = await screenshot("admin-dashboard.png");
    return { title: await page.title(), cookie: cookie && { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path, secure: cookie.secure }, screenshot: shot };
  });

  await step("search", async () => {
    await page.fill("#q", input.handle.slice(0, 5));
    await Promise.all([page.waitForURL(/\/admin\?q=/), page.click("form[role=search] button")]);
    const link = page.locator("table a", { hasText: input.handle });
    const found = await link.count();
    await Promise.all([page.waitForURL(/\/admin\/account\?did=/), link.first().click()]);
    return { found, status: (await page.textContent("#status"))?.trim(), screenshot: await screenshot("admin-account.png") };
  });

  await step("takedown", async () => {
    await Promise.all([page.waitForURL(/notice=taken-down/), page.click("button:has-text('Take down')")]);
    return { status: (await page.textContent("#status"))?.trim(), notice: (await page.textContent("[role=status]"))?.trim(), screenshot: await screenshot("admin-takedown.png") };
  });

  await step("sign-out", async () => {
    await Promise.all([page.waitForURL(`${input.url}/admin`), page.click("button:has-text('Sign out')")]);
    await page.waitForSelector("#password");
    const cookie = (await context.cookies(`${input.url}/admin`)).find((c) => c.name === "aurora-admin");
    return { signInShown: true, cookieLeft: Boolean(cookie) };
  });

  await browser.close();
  result.ok = true;
  finish(0);
} catch (err) {
  result.error = { step: current, name: err?.name, message: String(err?.message ?? err), page: page ? { url: page.url(), text: (await page.textContent("body").catch(() => ""))?.slice(0, 1500) } : undefined };
  finish(1);
}
