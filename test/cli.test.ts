import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "@/version";
import { freePort } from "./support/services";
import { BUN, ROOT, runCommand, waitForHttp } from "./support/process";

const dir = mkdtempSync(join(tmpdir(), "aurora-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const aurora = (args: string[], env: Record<string, string> = {}) =>
  runCommand([BUN, join(ROOT, "src/main.ts"), ...args], { cwd: dir, env: { PATH: process.env.PATH, ...env } });

describe("aurora CLI", () => {
  test("--version and --help", async () => {
    expect((await aurora(["--version"])).stdout.trim()).toBe(VERSION);
    const help = await aurora(["--help"]);
    expect(help.code).toBe(0);
    for (const usage of ["aurora serve", "aurora config check", "aurora config print"]) expect(help.stdout).toContain(usage);
  });

  test.each([
    [["--frobnicate"], "Unknown option '--frobnicate'"],
    [["serve", "--port", "1"], "Unknown option '--port'"],
    [["launch"], 'unknown command "launch"'],
    [["config", "explode"], 'unknown command "config explode"'],
  ])("%j exits 2 with a one-line error", async (args, message) => {
    const ran = await aurora(args);
    expect(ran.code).toBe(2);
    expect(ran.stderr.trim().split("\n")).toHaveLength(1);
    expect(ran.stderr).toContain(message);
  });

  test("config check names the bad field and exits non-zero", async () => {
    const bad = join(dir, "bad.ts");
    writeFileSync(bad, `import { defineConfig } from "aurora";\nexport default defineConfig({ service: { port: 99999 } } as never);\n`);
    const ran = await aurora(["config", "check", "--config", bad]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain("service.port");
    expect(ran.stderr).toContain("65535");
  });

  test("config check on a missing file says so", async () => {
    const ran = await aurora(["config", "check", "--config", "nope.ts"]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain("config file not found");
  });

  test("config check accepts a good file that imports from aurora", async () => {
    const good = join(dir, "good.ts");
    writeFileSync(good, `import { defineConfig, sqlite, disk } from "aurora";\nexport default defineConfig({ db: sqlite({ path: "x.sqlite" }), blobs: disk() });\n`);
    const ran = await aurora(["config", "check", "--config", good]);
    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain("db=db-sqlite blobs=storage-disk cache=cache-memory");
  });

  test("config print shows the resolved config with every secret redacted", async () => {
    const ran = await aurora(["config", "print"], {
      PDS_HOSTNAME: "pds.example.com",
      PDS_JWT_SECRET: "jwt-secret-value-123456",
      PDS_ADMIN_PASSWORD: "admin-password-value",
      PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: "d".repeat(64),
      DATABASE_TYPE: "postgres",
      DATABASE_URL: "postgresql://aurora:db-password-value@db:5432/aurora",
      PDS_BLOBSTORE_S3_BUCKET: "blobs",
      PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY: "s3-secret-value",
      PDS_RATE_LIMIT_BYPASS_KEY: "bypass-key-value",
    });
    expect(ran.code).toBe(0);
    const printed = JSON.parse(ran.stdout);
    expect(printed.service.publicUrl).toBe("https://pds.example.com");
    expect(printed.db).toMatchObject({ plugin: "db-postgres", url: "postgresql://aurora:[redacted]@db:5432/aurora" });
    expect(printed.blobs).toMatchObject({ plugin: "storage-s3", bucket: "blobs", secretAccessKey: "[redacted]" });
    for (const secret of ["jwt-secret-value", "admin-password-value", "d".repeat(64), "db-password-value", "s3-secret-value", "bypass-key-value"]) {
      expect(ran.stdout).not.toContain(secret);
    }
  });

  test("nginx writes a site file from flags and the config's blob limit", async () => {
    const out = join(dir, "aurora-site.conf");
    const ran = await aurora(
      [
        "nginx", "--node", "10.0.0.1:2583", "--node", "10.0.0.2:2583", "--server-name", "pds.example.com", "--listen", "8080", "--sticky",
        "--metrics-allow", "10.0.0.0/8, 192.0.2.7", "--metrics-allow", "2001:db8::/32", "--out", out,
      ],
      { PDS_BLOB_UPLOAD_LIMIT: String(50 * 1024 * 1024) },
    );
    expect(ran.code).toBe(0);
    const site = await Bun.file(out).text();
    expect(site).toContain("ip_hash;");
    expect(site).toContain("server 10.0.0.2:2583 max_fails=3 fail_timeout=30s;");
    expect(site).toContain("client_max_body_size 51m;");
    expect(site).toContain("listen 8080;");
    expect(site).toContain("allow 10.0.0.0/8;\n        allow 192.0.2.7;\n        allow 2001:db8::/32;\n        deny all;");
  });

  test.each([
    [["nginx", "--server-name", "pds.example.com"], "at least one --node"],
    [["nginx", "--node", "a:1", "--tls-cert", "/c.pem"], "--tls-cert and --tls-key go together"],
    [["nginx", "--node", "a:1", "--listen", "http"], "is not PORT or ADDRESS:PORT"],
    [["nginx", "--node", "a:1", "--metrics-allow", "10.0.0.0/8;allow all"], "is not an IP address or CIDR range"],
  ])("nginx %j is a usage error (exit 2)", async (args, message) => {
    const ran = await aurora(args);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(message);
  });

  test("serve runs with PDS_PORT, answers, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const child = Bun.spawn([BUN, join(ROOT, "src/main.ts")], {
      cwd: dir,
      env: { PATH: process.env.PATH, PDS_PORT: String(port), PDS_DATA_DIRECTORY: join(dir, "data") },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    try {
      const health = await waitForHttp(`http://127.0.0.1:${port}/xrpc/_health`);
      expect(await health.json()).toEqual({ version: VERSION });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await child.exited).toBe(0);
    const log = await new Response(child.stdout).text();
    expect(log).toContain('"msg":"stopped"');
  });
});
