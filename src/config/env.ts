import { memory } from "@/cache/memory";
import { ConfigError } from "@/errors";
import type { LogLevel } from "@/log";
import { redis } from "@plugins/cache-redis";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { disk } from "@plugins/storage-disk";
import { s3 } from "@plugins/storage-s3";
import type { UserConfig } from "./schema";

type Env = Record<string, string | undefined>;

/**
 * The environment variables of the reference PDS (PDS_*) and of the
 * Scalability Guide, mapped onto a `UserConfig`. Unset (or empty) variables
 * stay unset so `resolveConfig` applies its defaults; a malformed value is a
 * `ConfigError` naming the variable. The README lists every variable.
 */
export function fromEnv(env: Env = process.env): UserConfig {
  const e = reader(env);
  const appView = servicePair(e, "PDS_BSKY_APP_VIEW_URL", "PDS_BSKY_APP_VIEW_DID");
  const chat = servicePair(e, "PDS_CHAT_URL", "PDS_CHAT_DID");
  const modService = moderationService(e);
  // As the reference: reports go to the moderation service when no report service is named.
  const reportService = servicePair(e, "PDS_REPORT_SERVICE_URL", "PDS_REPORT_SERVICE_DID") ?? modService.proxied;
  return prune({
    service: {
      hostname: e.str("PDS_HOSTNAME"),
      port: e.int("PDS_PORT"),
      publicUrl: e.str("PDS_PUBLIC_URL"),
      did: e.str("PDS_SERVICE_DID"),
      handleDomains: e.list("PDS_SERVICE_HANDLE_DOMAINS"),
      inviteRequired: e.bool("PDS_INVITE_REQUIRED"),
      devMode: e.bool("PDS_DEV_MODE"),
      blobUploadLimit: e.int("PDS_BLOB_UPLOAD_LIMIT"),
      maxImportSize: e.int("PDS_MAX_REPO_IMPORT_SIZE"),
      repoWriteQueueMax: e.int("PDS_REPO_WRITE_QUEUE_MAX"),
      contactEmail: e.str("PDS_CONTACT_EMAIL_ADDRESS"),
      privacyPolicyUrl: e.str("PDS_PRIVACY_POLICY_URL"),
      termsOfServiceUrl: e.str("PDS_TERMS_OF_SERVICE_URL"),
      modServiceDid: modService.did,
      migrateOnStart: e.bool("PDS_MIGRATE_ON_START"),
    },
    dataDir: e.str("PDS_DATA_DIRECTORY"),
    secrets: {
      jwtSecret: e.str("PDS_JWT_SECRET"),
      adminPassword: e.str("PDS_ADMIN_PASSWORD"),
      plcRotationKeyHex: e.str("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX"),
    },
    identity: {
      plcUrl: e.str("PDS_DID_PLC_URL"),
      embeddedPlcPort: e.int("PDS_EMBEDDED_PLC_PORT"),
      allowPrivateAddresses: e.bool("PDS_SSRF_ALLOW_PRIVATE"),
    },
    crawlers: env.PDS_CRAWLERS === undefined ? undefined : (e.list("PDS_CRAWLERS") ?? []),
    firehose: {
      backfillHours: hoursFromMs(e.int("PDS_REPO_BACKFILL_LIMIT_MS")),
      maxBufferedEvents: e.int("PDS_FIREHOSE_MAX_BUFFERED_EVENTS"),
      keepaliveMs: e.int("PDS_FIREHOSE_KEEPALIVE_MS"),
      pollIntervalMs: e.int("PDS_SEQUENCER_POLL_MS"),
      maxSubscribers: e.int("PDS_FIREHOSE_MAX_SUBSCRIBERS"),
      maxSubscribersPerIp: e.int("PDS_FIREHOSE_MAX_SUBSCRIBERS_PER_IP"),
      maxConcurrentBackfills: e.int("PDS_FIREHOSE_MAX_BACKFILLS"),
    },
    appView: appView ? { ...appView, cdnUrlPattern: e.str("PDS_BSKY_APP_VIEW_CDN_URL_PATTERN") } : undefined,
    chat,
    reportService,
    proxy: {
      headersTimeoutMs: e.int("PDS_PROXY_HEADERS_TIMEOUT"),
      timeoutMs: e.int("PDS_PROXY_TIMEOUT_MS"),
      maxResponseBytes: e.int("PDS_PROXY_MAX_RESPONSE_SIZE"),
    },
    email: {
      smtpUrl: e.str("PDS_EMAIL_SMTP_URL"),
      fromAddress: e.str("PDS_EMAIL_FROM_ADDRESS"),
      moderationSmtpUrl: e.str("PDS_MODERATION_EMAIL_SMTP_URL"),
      moderationAddress: e.str("PDS_MODERATION_EMAIL_ADDRESS"),
      sendTimeoutMs: e.int("PDS_EMAIL_SEND_TIMEOUT_MS"),
    },
    log: { level: e.str("LOG_LEVEL") as LogLevel | undefined },
    db: database(e),
    blobs: blobStore(e),
    cache: cache(e),
    caching: {
      enabled: e.bool("CACHE_ENABLED"),
      defaultTtl: e.int("CACHE_DEFAULT_TTL"),
      didDocTtl: e.int("CACHE_DID_DOC_TTL"),
      handleTtl: e.int("CACHE_HANDLE_TTL"),
      sessionTtl: e.int("CACHE_SESSION_TTL"),
      repoTtl: e.int("CACHE_REPO_TTL"),
    },
    rateLimit: {
      enabled: e.bool("PDS_RATE_LIMITS_ENABLED"),
      distributed: e.bool("RATE_LIMIT_DISTRIBUTED"),
      authenticated: e.int("RATE_LIMIT_AUTHENTICATED"),
      unauthenticated: e.int("RATE_LIMIT_UNAUTHENTICATED"),
      admin: e.int("RATE_LIMIT_ADMIN"),
      bypassKey: e.str("PDS_RATE_LIMIT_BYPASS_KEY"),
      bypassIps: e.list("PDS_RATE_LIMIT_BYPASS_IPS"),
    },
    metrics: { token: e.str("PDS_METRICS_TOKEN"), allowIps: e.list("PDS_METRICS_ALLOW_IPS") },
    admin: { ui: e.bool("PDS_ADMIN_UI") },
  });
}

type Reader = ReturnType<typeof reader>;

/** A proxied service's URL and DID variables: both or neither. */
function servicePair(e: Reader, urlName: string, didName: string): { url: string; did: string } | undefined {
  const url = e.str(urlName);
  const did = e.str(didName);
  if ((url === undefined) !== (did === undefined)) throw new ConfigError(`${urlName} and ${didName} must be set together`);
  return url && did ? { url, did } : undefined;
}

/**
 * PDS_MOD_SERVICE_DID alone lets that service moderate; with PDS_MOD_SERVICE_URL (which, as in the
 * reference, needs the DID) it is also where reports go when PDS_REPORT_SERVICE_* is unset.
 */
function moderationService(e: Reader): { did?: string; proxied?: { url: string; did: string } } {
  const did = e.str("PDS_MOD_SERVICE_DID");
  const url = e.str("PDS_MOD_SERVICE_URL");
  if (url !== undefined && did === undefined) throw new ConfigError("PDS_MOD_SERVICE_URL needs PDS_MOD_SERVICE_DID");
  return { did, proxied: url && did ? { url, did } : undefined };
}

/** The reference PDS gives the backfill window in ms; the config keeps hours. */
function hoursFromMs(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 3_600_000;
}

function database(e: Reader): UserConfig["db"] {
  const type = e.oneOf("DATABASE_TYPE", ["sqlite", "postgres"]) ?? "sqlite";
  const url = e.str("DATABASE_URL");
  if (type === "sqlite") return sqlite({ path: url?.replace(/^sqlite:(\/\/)?/, "") });
  if (!url) throw new ConfigError("DATABASE_TYPE=postgres needs DATABASE_URL (postgresql://user:pass@host:5432/db)");
  return postgres({
    url,
    maxConnections: e.int("POSTGRES_MAX_CONNECTIONS"),
    statementConnections: e.int("POSTGRES_STATEMENT_CONNECTIONS"),
    minConnections: e.int("POSTGRES_MIN_CONNECTIONS"),
    connectTimeout: e.int("POSTGRES_CONNECT_TIMEOUT"),
    maxLifetime: e.int("POSTGRES_MAX_LIFETIME"),
    idleTimeout: e.int("POSTGRES_IDLE_TIMEOUT"),
    preparedStatements: e.bool("POSTGRES_PREPARED_STATEMENTS"),
  });
}

function blobStore(e: Reader): UserConfig["blobs"] {
  const type = e.oneOf("PDS_BLOBSTORE_TYPE", ["disk", "s3"]) ?? (e.str("PDS_BLOBSTORE_S3_BUCKET") ? "s3" : "disk");
  if (type === "disk") return disk({ location: e.str("PDS_BLOBSTORE_DISK_LOCATION") });
  const bucket = e.str("PDS_BLOBSTORE_S3_BUCKET");
  if (!bucket) throw new ConfigError("PDS_BLOBSTORE_TYPE=s3 needs PDS_BLOBSTORE_S3_BUCKET");
  return s3({
    bucket,
    region: e.str("PDS_BLOBSTORE_S3_REGION"),
    endpoint: e.str("PDS_BLOBSTORE_S3_ENDPOINT"),
    accessKeyId: e.str("PDS_BLOBSTORE_S3_ACCESS_KEY_ID"),
    secretAccessKey: e.str("PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY"),
    forcePathStyle: e.bool("PDS_BLOBSTORE_S3_FORCE_PATH_STYLE"),
    checksums: e.oneOf("PDS_BLOBSTORE_S3_CHECKSUMS", ["when_supported", "when_required"]),
  });
}

/** REDIS_URL selects Redis; CACHE_ENABLED separately says whether lookups are cached. */
function cache(e: Reader): UserConfig["cache"] {
  const url = e.str("REDIS_URL");
  if (!url) return memory();
  return redis({ url, keyPrefix: e.str("CACHE_KEY_PREFIX"), poolSize: e.int("REDIS_POOL_SIZE") });
}

function reader(env: Env) {
  const str = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  return {
    str,
    int(name: string): number | undefined {
      const value = str(name);
      if (value === undefined) return undefined;
      if (!/^-?\d+$/.test(value)) throw new ConfigError(`${name}: expected an integer, got ${JSON.stringify(value)}`);
      return Number(value);
    },
    bool(name: string): boolean | undefined {
      const value = str(name)?.toLowerCase();
      if (value === undefined) return undefined;
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(env[name])}`);
    },
    list(name: string): string[] | undefined {
      const value = str(name);
      return value?.split(",").map((s) => s.trim()).filter(Boolean);
    },
    oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
      const value = str(name);
      if (value === undefined) return undefined;
      if (!(allowed as readonly string[]).includes(value)) {
        throw new ConfigError(`${name}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
      }
      return value as T;
    },
  };
}

/** Drop undefined values and objects left empty, so defaults apply and strict checks pass. */
function prune<T>(value: T): T {
  if (Array.isArray(value) || value === null || typeof value !== "object") return value;
  if ("kind" in value) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const pruned = prune(child);
    if (pruned === undefined) continue;
    if (pruned && typeof pruned === "object" && !Array.isArray(pruned) && !("kind" in pruned) && Object.keys(pruned).length === 0) continue;
    out[key] = pruned;
  }
  return out as T;
}
