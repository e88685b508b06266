import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "@/version";
import { ROOT, runCommand, waitForHttp } from "./support/process";
import { builtBinary } from "./support/binary";
import { freePort } from "./support/services";

// The compiled executable, run from a directory with no node_modules and no
// source tree: everything it needs, including the "aurora" module a config
// file imports, must be inside the binary.
const dir = mkdtempSync(join(tmpdir(), "aurora-bin-"));
const binary = join(dir, "aurora");

beforeAll(async () => {
  copyFileSync(await builtBinary(), binary);
  await runCommand(["chmod", "+x", binary]);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { PATH: "/usr/bin:/bin", HOME: dir };

test("the binary runs with no node_modules in reach", async () => {
  expect(existsSync(join(dir, "node_modules"))).toBe(false);
  const ran = await runCommand([binary, "--version"], { cwd: dir, env });
  expect(ran.stdout.trim()).toBe(VERSION);
});

test("the binary serves with a config file that imports from aurora", async () => {
  const port = await freePort();
  writeFileSync(
    join(dir, "prod.ts"),
    `import { defineConfig, fromEnv, sqlite, disk, memory } from "aurora";
export default defineConfig({
  ...fromEnv(),
  service: { hostname: "localhost", port: ${port}, bind: "127.0.0.1", inviteRequired: false },
  dataDir: "./state",
  db: sqlite({ path: "pds.sqlite" }),
  blobs: disk({ location: "blobs" }),
  cache: memory({ maxEntries: 1000 }),
});
`,
  );
  const check = await runCommand([binary, "config", "check", "--config", "prod.ts"], { cwd: dir, env });
  expect(check.stderr).toBe("");
  expect(check.code).toBe(0);

  const child = Bun.spawn([binary, "serve", "--config", "prod.ts"], { cwd: dir, env, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  try {
    const health = await waitForHttp(`http://127.0.0.1:${port}/xrpc/_health`);
    expect(await health.json()).toEqual({ version: VERSION });
    const described = await fetch(`http://127.0.0.1:${port}/xrpc/com.atproto.server.describeServer`);
    expect(await described.json()).toMatchObject({
      did: "did:web:localhost",
      availableUserDomains: [".test"],
      inviteCodeRequired: false,
    });
    expect(existsSync(join(dir, "state/pds.sqlite"))).toBe(true);
  } finally {
    child.kill("SIGTERM");
  }
  expect(await child.exited).toBe(0);
});

test("the binary serves with a third-party plugin that imports only from aurora", async () => {
  const port = await freePort();
  copyFileSync(join(ROOT, "test/fixtures/map-cache.ts"), join(dir, "map-cache.ts"));
  writeFileSync(
    join(dir, "third-party.ts"),
    `import { defineConfig, sqlite } from "aurora";
import { mapCache } from "./map-cache.ts";
export default defineConfig({
  service: { port: ${port}, bind: "127.0.0.1" },
  dataDir: "./third-party-state",
  db: sqlite(),
  cache: mapCache(),
});
`,
  );
  const check = await runCommand([binary, "config", "check", "--config", "third-party.ts"], { cwd: dir, env });
  expect(check.stderr).toBe("");
  expect(check.stdout).toContain("cache=cache-map");
  const child = Bun.spawn([binary, "serve", "--config", "third-party.ts"], { cwd: dir, env, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  try {
    expect((await waitForHttp(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
  } finally {
    child.kill("SIGTERM");
  }
  expect(await child.exited).toBe(0);
});
