/**
 * The admin page in headless Chromium (issue 17's proof): a real Aurora on
 * SQLite with admin.ui on, driven by ./ui-driver.mjs under the Node 22 and
 * playwright-core of test/oauth/install.ts: sign in (after a wrong
 * password), search an account by handle, open it, take it down and see its
 * status change, sign out; the takedown is then checked on the server (the
 * account's log-in is refused). About ten seconds once the install is cached.
 * AURORA_SCREENSHOTS=1 rewrites docs/screenshots/admin-*.png.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { ADMIN_PASSWORD, type Node, failure, startNode } from "@test/e2e/accounts-support";
import { type OAuthClientInstall, ensureChromium, installOAuthClient } from "@test/oauth/install";
import { type TestPlc, startPlc } from "@test/support/plc";
import { ROOT } from "@test/support/process";

const DRIVER = join(import.meta.dir, "ui-driver.mjs");
const dir = mkdtempSync(join(tmpdir(), "aurora-admin-ui-"));
const handle = "mallory.test";
const password = "mallory-password-1";
let install: OAuthClientInstall;
let plc: TestPlc;
let node: Node;

beforeAll(async () => {
  await ensureChromium();
  install = await installOAuthClient();
  plc = await startPlc();
  node = await startNode({
    plcUrl: plc.url,
    db: sqlite({ path: join(dir, "aurora.sqlite") }),
    config: { service: { inviteRequired: false }, identity: { plcUrl: plc.url, allowPrivateAddresses: true }, admin: { ui: true } },
  });
  await new AtpAgent({ service: node.url }).createAccount({ handle, email: "mallory@example.com", password });
  // Another account the search must not show.
  await new AtpAgent({ service: node.url }).createAccount({ handle: "trent.test", email: "trent@example.com", password });
}, 900_000);

afterAll(async () => {
  await node?.stop();
  await plc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function runDriver(input: Record<string, unknown>): Promise<any> {
  const child = Bun.spawn([install.node, DRIVER], {
    cwd: install.dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ADMIN_DRIVER_INPUT: JSON.stringify({ ...input, installDir: install.dir, timeoutMs: 60_000 }) },
    stdout: "pipe",
    stderr: "inherit",
    timeout: 75_000,
  });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`the admin driver exited with code ${code} and printed no result line:\n${stdout.slice(-2000)}`);
  }
}

test("sign in, search an account, take it down, see its status change", async () => {
  const screenshotsDir = process.env.AURORA_SCREENSHOTS === "1" ? join(ROOT, "docs/screenshots") : undefined;
  const result = await runDriver({ url: node.url, password: ADMIN_PASSWORD, handle, ...(screenshotsDir ? { screenshotsDir } : {}) });
  if (!result.ok) throw new Error(`the admin driver failed: ${JSON.stringify(result.error, null, 2)}\nsteps done: ${Object.keys(result.steps).join(", ")}`);
  const s = result.steps;
  expect(result.cspViolations).toEqual([]);
  expect(s["sign-in-page"]).toMatchObject({ status: 200, title: "Admin sign-in", styled: true });
  expect(s["wrong-password"].alert).toBe("Wrong password.");
  expect(s["sign-in"].title).toBe("Dashboard · Aurora admin");
  expect(s["sign-in"].cookie).toEqual({ httpOnly: true, sameSite: "Strict", path: "/admin", secure: false });
  expect(s.search).toMatchObject({ found: 1, status: "active" });
  expect(s.takedown.status).toStartWith("takendown");
  expect(s.takedown.notice).toContain("The account is taken down");
  expect(s["sign-out"]).toEqual({ signInShown: true, cookieLeft: false });
  // On the server: the account is taken down for real.
  expect(await failure(new AtpAgent({ service: node.url }).login({ identifier: handle, password }))).toEqual({ status: 401, error: "AccountTakedown" });
}, 120_000);
