import { describe, expect, test } from "bun:test";
import { ConfigError } from "@/errors";
import { fromEnv } from "./env";
import { resolveConfig } from "./resolve";

const resolveEnv = (env: Record<string, string>) => resolveConfig(fromEnv(env), "/srv");

describe("fromEnv", () => {
  test("an empty environment gives the defaults", () => {
    expect(Object.keys(fromEnv({})).sort()).toEqual(["blobs", "cache", "db"]);
    const config = resolveEnv({});
    expect(config.service.port).toBe(2583);
    expect(config.db.name).toBe("db-sqlite");
  });

  test("maps the reference PDS's variables", () => {
    const config = resolveEnv({
      PDS_HOSTNAME: "pds.example.com",
      PDS_PORT: "3000",
      PDS_DATA_DIRECTORY: "/var/aurora",
      PDS_SERVICE_DID: "did:web:service.example.com",
      PDS_SERVICE_HANDLE_DOMAINS: ".example.com, .example.org",
      PDS_DID_PLC_URL: "http://plc.local:2582/",
      PDS_SSRF_ALLOW_PRIVATE: "true",
      PDS_INVITE_REQUIRED: "false",
      PDS_ADMIN_PASSWORD: "admin-pass-123",
      PDS_JWT_SECRET: "0123456789abcdef0123",
      PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: "b".repeat(64),
      PDS_DEV_MODE: "true",
      PDS_CRAWLERS: "https://bsky.network,https://relay.example.com",
      PDS_BLOB_UPLOAD_LIMIT: "5242880",
      PDS_BSKY_APP_VIEW_URL: "https://api.bsky.app",
      PDS_BSKY_APP_VIEW_DID: "did:web:api.bsky.app",
      LOG_LEVEL: "debug",
      PDS_PUBLIC_URL: "https://public.example.com",
      PDS_CONTACT_EMAIL_ADDRESS: "ops@example.com",
      PDS_PRIVACY_POLICY_URL: "https://example.com/privacy",
      PDS_TERMS_OF_SERVICE_URL: "https://example.com/tos",
    });
    expect(config.service).toMatchObject({
      hostname: "pds.example.com",
      port: 3000,
      did: "did:web:service.example.com",
      handleDomains: [".example.com", ".example.org"],
      inviteRequired: false,
      devMode: true,
      blobUploadLimit: 5242880,
      publicUrl: "https://public.example.com",
      contactEmail: "ops@example.com",
      privacyPolicyUrl: "https://example.com/privacy",
      termsOfServiceUrl: "https://example.com/tos",
    });
    expect(config.dataDir).toBe("/var/aurora");
    expect(config.identity).toEqual({ plcUrl: "http://plc.local:2582", allowPrivateAddresses: true });
    expect(config.secrets).toEqual({
      adminPassword: "admin-pass-123",
      jwtSecret: "0123456789abcdef0123",
      plcRotationKeyHex: "b".repeat(64),
    });
    expect(config.crawlers).toEqual(["https://bsky.network", "https://relay.example.com"]);
    expect(config.appView).toEqual({ url: "https://api.bsky.app", did: "did:web:api.bsky.app" });
    expect(config.log.level).toBe("debug");
  });

  test("maps the Scalability Guide's variables", () => {
    const config = resolveEnv({
      DATABASE_TYPE: "postgres",
      DATABASE_URL: "postgresql://aurora:pw@db:5432/aurora",
      POSTGRES_MAX_CONNECTIONS: "50",
      POSTGRES_STATEMENT_CONNECTIONS: "3",
      POSTGRES_MIN_CONNECTIONS: "5",
      POSTGRES_CONNECT_TIMEOUT: "7",
      POSTGRES_MAX_LIFETIME: "900",
      POSTGRES_IDLE_TIMEOUT: "60",
      POSTGRES_PREPARED_STATEMENTS: "false",
      PDS_BLOBSTORE_TYPE: "s3",
      PDS_BLOBSTORE_S3_BUCKET: "blobs",
      PDS_BLOBSTORE_S3_REGION: "eu-west-1",
      PDS_BLOBSTORE_S3_ACCESS_KEY_ID: "AKIA123",
      PDS_BLOBSTORE_S3_SECRET_ACCESS_KEY: "s3-secret",
      PDS_BLOBSTORE_S3_ENDPOINT: "http://minio:9000",
      CACHE_ENABLED: "true",
      REDIS_URL: "redis://cache:6379",
      CACHE_KEY_PREFIX: "pds1:",
      CACHE_DEFAULT_TTL: "120",
      CACHE_DID_DOC_TTL: "7200",
      CACHE_HANDLE_TTL: "900",
      CACHE_SESSION_TTL: "60",
      RATE_LIMIT_DISTRIBUTED: "true",
      RATE_LIMIT_AUTHENTICATED: "1000",
      RATE_LIMIT_UNAUTHENTICATED: "100",
      RATE_LIMIT_ADMIN: "10000",
      REDIS_POOL_SIZE: "20",
    });
    expect(config.db.name).toBe("db-postgres");
    expect(config.db.describe()).toMatchObject({
      url: "postgresql://aurora:[redacted]@db:5432/aurora",
      maxConnections: 50,
      statementConnections: 3,
      minConnections: 5,
      connectTimeout: 7,
      maxLifetime: 900,
      idleTimeout: 60,
      preparedStatements: false,
    });
    expect(config.blobs.name).toBe("storage-s3");
    expect(config.blobs.describe()).toMatchObject({
      bucket: "blobs",
      region: "eu-west-1",
      endpoint: "http://minio:9000",
      accessKeyId: "AKIA123",
      secretAccessKey: "[redacted]",
    });
    expect(config.cache.name).toBe("cache-redis");
    expect(config.cache.describe()).toMatchObject({ url: "redis://cache:6379", keyPrefix: "pds1:", poolSize: 20 });
    expect(config.caching).toMatchObject({ enabled: true, defaultTtl: 120, didDocTtl: 7200, handleTtl: 900, sessionTtl: 60 });
    expect(config.rateLimit).toMatchObject({ distributed: true, authenticated: 1000, unauthenticated: 100, admin: 10000 });
  });

  test.each([
    [{ PDS_PORT: "twenty" }, "PDS_PORT: expected an integer"],
    [{ PDS_INVITE_REQUIRED: "maybe" }, "PDS_INVITE_REQUIRED: expected true or false"],
    [{ DATABASE_TYPE: "mysql" }, "DATABASE_TYPE: expected one of sqlite, postgres"],
    [{ DATABASE_TYPE: "postgres" }, "DATABASE_TYPE=postgres needs DATABASE_URL"],
    [{ PDS_BLOBSTORE_TYPE: "s3" }, "PDS_BLOBSTORE_TYPE=s3 needs PDS_BLOBSTORE_S3_BUCKET"],
    [{ PDS_BSKY_APP_VIEW_URL: "https://api.bsky.app" }, "must be set together"],
    [{ PDS_CHAT_DID: "did:web:api.bsky.chat" }, "PDS_CHAT_URL and PDS_CHAT_DID must be set together"],
    [{ PDS_REPORT_SERVICE_URL: "https://mod.bsky.app" }, "PDS_REPORT_SERVICE_URL and PDS_REPORT_SERVICE_DID must be set together"],
    [{ PDS_PROXY_TIMEOUT_MS: "soon" }, "PDS_PROXY_TIMEOUT_MS: expected an integer"],
  ])("a malformed variable is a ConfigError naming it: %j", (env, message) => {
    expect(() => fromEnv(env)).toThrow(ConfigError);
    expect(() => fromEnv(env)).toThrow(message);
  });

  test("maps the proxied services and proxy limits; without them the defaults apply", () => {
    const config = resolveEnv({
      PDS_CHAT_URL: "https://api.bsky.chat/",
      PDS_CHAT_DID: "did:web:api.bsky.chat",
      PDS_REPORT_SERVICE_URL: "https://mod.bsky.app",
      PDS_REPORT_SERVICE_DID: "did:plc:ar7c4by46qjdydhdevvrndac",
      PDS_PROXY_HEADERS_TIMEOUT: "5000",
      PDS_PROXY_TIMEOUT_MS: "30000",
      PDS_PROXY_MAX_RESPONSE_SIZE: "1048576",
    });
    expect(config.chat).toEqual({ url: "https://api.bsky.chat", did: "did:web:api.bsky.chat" });
    expect(config.reportService).toEqual({ url: "https://mod.bsky.app", did: "did:plc:ar7c4by46qjdydhdevvrndac" });
    expect(config.proxy).toEqual({ headersTimeoutMs: 5000, timeoutMs: 30_000, maxResponseBytes: 1_048_576 });
    const defaults = resolveEnv({});
    expect([defaults.chat, defaults.reportService]).toEqual([undefined, undefined]);
    expect(defaults.proxy).toEqual({ headersTimeoutMs: 10_000, timeoutMs: 60_000, maxResponseBytes: 10 * 1024 * 1024 });
  });

  test("empty values count as unset", () => {
    const config = resolveEnv({ PDS_PORT: "", PDS_CRAWLERS: "", REDIS_URL: " " });
    expect(config.service.port).toBe(2583);
    expect(config.crawlers).toEqual([]);
    expect(config.cache.name).toBe("cache-memory");
  });
});
