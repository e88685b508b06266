import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@/errors";
import { resolveConfig } from "./resolve";
import { loadSecrets } from "./secrets";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "aurora-secrets-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("loadSecrets", () => {
  test("production mode refuses to start without secrets and names the variables", async () => {
    const config = resolveConfig({ dataDir: tempDir(), service: { hostname: "pds.example.com" }, secrets: { jwtSecret: "x".repeat(32) } });
    const attempt = loadSecrets(config, { persist: true });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(loadSecrets(config, { persist: true })).rejects.toThrow(
      "PDS_ADMIN_PASSWORD (secrets.adminPassword), PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
    );
  });

  test("the refusal says how to generate each secret, not to turn on dev mode", async () => {
    const config = resolveConfig({ dataDir: tempDir(), service: { hostname: "pds.example.com" } });
    const message = await loadSecrets(config, { persist: true }).catch((err: Error) => err.message);
    expect(message).toContain("PDS_JWT_SECRET=$(openssl rand -hex 32)");
    expect(message).toContain("PDS_ADMIN_PASSWORD=$(openssl rand -hex 16)");
    expect(message).toContain("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX=$(openssl rand -hex 32)");
    expect(message).not.toMatch(/dev.?mode/i);
  });

  test("dev mode generates missing secrets once, stores them 0600, and reuses them", async () => {
    const dataDir = tempDir();
    const config = resolveConfig({ dataDir, secrets: { adminPassword: "given-password" } });
    const first = await loadSecrets(config, { persist: true });
    expect(first.secrets.adminPassword).toBe("given-password");
    expect(first.secrets.jwtSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(first.secrets.plcRotationKeyHex).toMatch(/^[0-9a-f]{64}$/);
    const file = join(dataDir, "secrets.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).not.toHaveProperty("adminPassword");
    const second = await loadSecrets(config, { persist: true });
    expect(second.secrets).toEqual(first.secrets);
  });

  test("without persist nothing is written", async () => {
    const dataDir = tempDir();
    const run = await loadSecrets(resolveConfig({ dataDir }), { persist: false });
    expect(run.secrets.jwtSecret).toBeString();
    expect(existsSync(join(dataDir, "secrets.json"))).toBe(false);
  });

  test("configured secrets are used as they are", async () => {
    const secrets = { jwtSecret: "j".repeat(32), adminPassword: "admin-password", plcRotationKeyHex: "c".repeat(64) };
    const config = resolveConfig({ dataDir: tempDir(), service: { hostname: "pds.example.com" }, secrets });
    expect((await loadSecrets(config, { persist: true })).secrets).toEqual(secrets);
  });
});
