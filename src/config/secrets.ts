import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "@/errors";
import type { Logger } from "@/log";
import type { ResolvedConfig, RunConfig } from "./resolve";

const ENV_NAMES = {
  jwtSecret: "PDS_JWT_SECRET",
  adminPassword: "PDS_ADMIN_PASSWORD",
  plcRotationKeyHex: "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
} as const;
type SecretName = keyof typeof ENV_NAMES;

/** A shell command that prints a fresh value for each secret (what the start-up error suggests). */
const HOW_TO_GENERATE: Record<SecretName, string> = {
  jwtSecret: "openssl rand -hex 32",
  adminPassword: "openssl rand -hex 16",
  // 32 random bytes are a valid secp256k1 key but for a chance of about 2^-128.
  plcRotationKeyHex: "openssl rand -hex 32",
};

/** Order of the secp256k1 group: a private key must be in [1, n-1]. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const generators: Record<SecretName, () => string> = {
  jwtSecret: () => randomHex(32),
  adminPassword: () => randomHex(16),
  plcRotationKeyHex: () => {
    for (;;) {
      const hex = randomHex(32);
      const k = BigInt(`0x${hex}`);
      if (k > 0n && k < SECP256K1_N) return hex;
    }
  },
};

/**
 * Fill in missing secrets. Outside dev mode a missing secret stops the start
 * with the variables to set; dev mode (a local-development convenience, on
 * by default only for hostname localhost) generates them once and keeps them in `<dataDir>/secrets.json`
 * (mode 0600) so sessions and keys survive restarts. With `persist: false`
 * (config check/print) nothing is written.
 */
export async function loadSecrets(config: ResolvedConfig, opts: { persist: boolean; log?: Logger }): Promise<RunConfig> {
  const missing = (Object.keys(ENV_NAMES) as SecretName[]).filter((k) => !config.secrets[k]);
  if (missing.length === 0) return config as RunConfig;
  if (!config.service.devMode) {
    const names = missing.map((k) => `${ENV_NAMES[k]} (secrets.${k})`).join(", ");
    const example = missing.map((k) => `${ENV_NAMES[k]}=$(${HOW_TO_GENERATE[k]})`).join(" ");
    throw new ConfigError(
      `missing secrets: ${names}. Generate each once and keep it (the same on every node), e.g. ${example}`,
    );
  }
  const file = join(config.dataDir, "secrets.json");
  const stored = await readStored(file);
  const secrets = { ...config.secrets };
  const generated: SecretName[] = [];
  for (const key of missing) {
    secrets[key] = stored[key] ?? generators[key]();
    if (!stored[key]) generated.push(key);
  }
  if (generated.length > 0 && opts.persist) {
    await mkdir(config.dataDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ ...stored, ...pick(secrets, generated) }, null, 2) + "\n", { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
    opts.log?.warn("dev mode: generated missing secrets", { file, secrets: generated.map((k) => ENV_NAMES[k]) });
  }
  return Object.freeze({ ...config, secrets: Object.freeze(secrets) }) as RunConfig;
}

async function readStored(file: string): Promise<Partial<Record<SecretName, string>>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const out: Partial<Record<SecretName, string>> = {};
    for (const key of Object.keys(ENV_NAMES) as SecretName[]) {
      if (typeof parsed[key] === "string") out[key] = parsed[key];
    }
    return out;
  } catch {
    throw new ConfigError(`${file} is not valid JSON; fix or remove it`);
  }
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, obj[k]])) as Pick<T, K>;
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}
