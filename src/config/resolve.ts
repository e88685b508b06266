import { Value } from "@sinclair/typebox/value";
import { resolve as resolvePath } from "node:path";
import { memory } from "@/cache/memory";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import { PLUGIN_KINDS } from "@/contracts/plugin";
import { ConfigError } from "@/errors";
import type { LogLevel } from "@/log";
import { isIpOrRange } from "@/rate-limit/client-ip";
import { type RateLimitSettings, resolveRateLimit } from "@/rate-limit/settings";
import { disk } from "@plugins/storage-disk";
import { sqlite } from "@plugins/db-sqlite";
import { type UserConfig, UserConfigSchema } from "./schema";

type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

type Secrets = { jwtSecret: string; adminPassword: string; plcRotationKeyHex: string };

/** The config after validation and defaults: complete and read-only. */
export type ResolvedConfig = DeepReadonly<{
  service: Required<Omit<NonNullable<UserConfig["service"]>, "contactEmail" | "privacyPolicyUrl" | "termsOfServiceUrl" | "modServiceDid">> &
    Pick<NonNullable<UserConfig["service"]>, "contactEmail" | "privacyPolicyUrl" | "termsOfServiceUrl" | "modServiceDid">;
  dataDir: string;
  /** Missing secrets are filled in by `loadSecrets` before the server starts. */
  secrets: Partial<Secrets>;
  /** `plcUrl` may be "embedded" (see src/identity/embedded-plc.ts); `embeddedPlcPort` undefined means a free port. */
  identity: { plcUrl: string; embeddedPlcPort?: number; allowPrivateAddresses: boolean };
  crawlers: string[];
  firehose: Required<NonNullable<UserConfig["firehose"]>>;
  appView: { url: string; did: string; cdnUrlPattern?: string } | undefined;
  chat: { url: string; did: string } | undefined;
  reportService: { url: string; did: string } | undefined;
  proxy: Required<NonNullable<UserConfig["proxy"]>>;
  log: { level: LogLevel };
  db: DatabasePlugin;
  blobs: BlobStorePlugin;
  cache: CachePlugin;
  caching: Required<NonNullable<UserConfig["caching"]>>;
  rateLimit: RateLimitSettings;
  metrics: { token: string | undefined; allowIps: string[] };
  admin: { ui: boolean };
  email: {
    smtpUrl: string | undefined;
    fromAddress: string;
    moderationSmtpUrl: string | undefined;
    moderationAddress: string;
    sendTimeoutMs: number;
  };
}>;

/** A resolved config whose secrets are all present: what the server runs with. */
export type RunConfig = ResolvedConfig & { readonly secrets: Readonly<Secrets> };

/** Validate a user config and apply every default. Throws `ConfigError` naming each bad field. */
export function resolveConfig(input: unknown, cwd = process.cwd()): ResolvedConfig {
  assertValid(input);
  const user = input;
  const s = user.service ?? {};
  const hostname = s.hostname ?? "localhost";
  const port = s.port ?? 2583;
  const local = hostname === "localhost";
  const config: ResolvedConfig = {
    service: {
      hostname,
      port,
      bind: s.bind ?? "0.0.0.0",
      publicUrl: trimSlash(s.publicUrl ?? (local ? `http://localhost:${port}` : `https://${hostname}`)),
      did: s.did ?? `did:web:${hostname}`,
      handleDomains: s.handleDomains ?? (local ? [".test"] : [`.${hostname}`]),
      inviteRequired: s.inviteRequired ?? true,
      devMode: s.devMode ?? local,
      blobUploadLimit: s.blobUploadLimit ?? 100 * 1024 * 1024,
      maxImportSize: s.maxImportSize ?? 32 * 1024 * 1024,
      repoWriteQueueMax: s.repoWriteQueueMax ?? 16,
      maxJsonBodyBytes: s.maxJsonBodyBytes ?? 150 * 1024,
      contactEmail: s.contactEmail,
      privacyPolicyUrl: s.privacyPolicyUrl,
      termsOfServiceUrl: s.termsOfServiceUrl,
      modServiceDid: s.modServiceDid,
      shutdownTimeoutMs: s.shutdownTimeoutMs ?? 10_000,
      migrateOnStart: s.migrateOnStart ?? true,
    },
    dataDir: resolvePath(cwd, user.dataDir ?? "./data"),
    secrets: { ...user.secrets },
    identity: {
      plcUrl: trimSlash(user.identity?.plcUrl ?? "https://plc.directory"),
      embeddedPlcPort: user.identity?.embeddedPlcPort,
      allowPrivateAddresses: user.identity?.allowPrivateAddresses ?? false,
    },
    crawlers: (user.crawlers ?? []).map(trimSlash),
    firehose: {
      backfillHours: user.firehose?.backfillHours ?? 72,
      maxBufferedEvents: user.firehose?.maxBufferedEvents ?? 500,
      keepaliveMs: user.firehose?.keepaliveMs ?? 30_000,
      pollIntervalMs: user.firehose?.pollIntervalMs ?? 1000,
      maxSubscribers: user.firehose?.maxSubscribers ?? 5000,
      maxSubscribersPerIp: user.firehose?.maxSubscribersPerIp ?? 50,
      maxConcurrentBackfills: user.firehose?.maxConcurrentBackfills ?? 4,
    },
    appView: user.appView ? { ...user.appView, url: trimSlash(user.appView.url) } : undefined,
    chat: user.chat ? { ...user.chat, url: trimSlash(user.chat.url) } : undefined,
    reportService: user.reportService ? { ...user.reportService, url: trimSlash(user.reportService.url) } : undefined,
    proxy: {
      headersTimeoutMs: user.proxy?.headersTimeoutMs ?? 10_000,
      timeoutMs: user.proxy?.timeoutMs ?? 60_000,
      maxResponseBytes: user.proxy?.maxResponseBytes ?? 10 * 1024 * 1024,
    },
    log: { level: user.log?.level ?? "info" },
    db: user.db ?? sqlite(),
    blobs: user.blobs ?? disk(),
    cache: user.cache ?? memory(),
    caching: {
      enabled: user.caching?.enabled ?? true,
      defaultTtl: user.caching?.defaultTtl ?? 300,
      didDocTtl: user.caching?.didDocTtl ?? 3600,
      handleTtl: user.caching?.handleTtl ?? 1800,
      sessionTtl: user.caching?.sessionTtl ?? 600,
      repoTtl: user.caching?.repoTtl ?? 300,
    },
    rateLimit: resolveRateLimit(user.rateLimit),
    metrics: { token: user.metrics?.token, allowIps: user.metrics?.allowIps ?? [] },
    admin: { ui: user.admin?.ui ?? false },
    email: resolveEmail(user.email, hostname),
  };
  if (config.identity.plcUrl === "embedded" && !(config.service.devMode && local)) {
    throw new ConfigError(
      `config identity.plcUrl: "embedded" is for local development only (dev mode on hostname localhost), but ${local ? "service.devMode is false" : `service.hostname is ${hostname}`}: identities in an embedded PLC directory are not published, so no one else could resolve this server's accounts; set PDS_DID_PLC_URL to a real directory`,
    );
  }
  const badIp = config.metrics.allowIps.find((entry) => !isIpOrRange(entry));
  if (badIp !== undefined) {
    throw new ConfigError(`config metrics.allowIps: expected IP addresses or CIDR ranges, got ${JSON.stringify(badIp)}`);
  }
  if (config.rateLimit.distributed && !config.cache.shared) {
    throw new ConfigError(
      `config rateLimit.distributed: needs a shared cache plugin such as redis(), but cache is ${config.cache.name}`,
    );
  }
  return deepFreeze(config);
}

function assertValid(input: unknown): asserts input is UserConfig {
  if (Value.Check(UserConfigSchema, input)) return;
  const lines = new Set<string>();
  for (const e of Value.Errors(UserConfigSchema, input)) {
    const slot = PLUGIN_KINDS.find((name) => e.path === `/${name}` || e.path.startsWith(`/${name}/`));
    if (slot) {
      // One line per bad plugin slot, not one per missing method.
      lines.add(`  ${slot}: expected ${UserConfigSchema.properties[slot].description}`);
      continue;
    }
    const allowed = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
    const expected = allowed?.every((v) => v !== undefined) ? `Expected one of ${allowed.join(", ")}` : e.message;
    lines.add(`  ${dotted(e.path)}: ${expected}${describeValue(e.path, e.value)}`);
  }
  throw new ConfigError(`invalid config:\n${[...lines].slice(0, 20).join("\n")}`);
}

function dotted(path: string): string {
  return path === "" ? "(root)" : path.slice(1).replaceAll("/", ".");
}

function describeValue(path: string, value: unknown): string {
  if (path.startsWith("/secrets")) return "";
  if (value === undefined || typeof value === "function") return "";
  const text = typeof value === "object" && value !== null ? (Array.isArray(value) ? "an array" : "an object") : JSON.stringify(value);
  return `, got ${text}`;
}

function resolveEmail(user: UserConfig["email"], hostname: string): ResolvedConfig["email"] {
  const fromAddress = user?.fromAddress ?? `noreply@${hostname}`;
  return {
    smtpUrl: user?.smtpUrl,
    fromAddress,
    moderationSmtpUrl: user?.moderationSmtpUrl,
    moderationAddress: user?.moderationAddress ?? fromAddress,
    sendTimeoutMs: user?.sendTimeoutMs ?? 5000,
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    // Plugins are live objects with internal state: freeze the config around them, not them.
    if ("kind" in value && "init" in value) return value;
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
