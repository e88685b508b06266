import { type Static, Type } from "@sinclair/typebox";
import { BLOB_STORE_METHODS, type BlobStorePlugin } from "@/contracts/blob-store";
import { CACHE_METHODS, type CachePlugin } from "@/contracts/cache";
import { DATABASE_METHODS, type DatabasePlugin } from "@/contracts/db";
import { LOG_LEVELS } from "@/log";
import { ALGORITHMS, KEY_KINDS } from "@/rate-limit/types";

/**
 * The schema of `aurora.config.ts`. Everything is optional: `resolveConfig`
 * applies the defaults documented on each field. The TypeScript types come
 * from this schema, so the checked shape and the typed shape cannot drift.
 */

const lifecycle = {
  name: Type.String({ minLength: 1 }),
  init: Type.Function([], Type.Any()),
  health: Type.Function([], Type.Any()),
  close: Type.Function([], Type.Any()),
  describe: Type.Function([], Type.Any()),
};

/** A plugin slot: checked structurally (kind, lifecycle, the contract's methods), typed as its contract. */
function pluginSlot<T>(kind: string, description: string, methods: readonly string[] = []) {
  const required = Object.fromEntries(methods.map((m) => [m, Type.Function([], Type.Any())]));
  return Type.Unsafe<T>(Type.Object({ kind: Type.Literal(kind), ...lifecycle, ...required }, { description }));
}

/** Unknown keys are typos: refuse them rather than silently ignore them. */
const strict = { additionalProperties: false } as const;

const port = Type.Integer({ minimum: 0, maximum: 65535 });
const seconds = Type.Integer({ minimum: 1 });
const httpUrl = Type.String({ pattern: "^https?://[^\\s]+$", description: "an http(s) URL" });

export const ServiceSchema = Type.Object({
  /** Public hostname (PDS_HOSTNAME). @default "localhost" */
  hostname: Type.Optional(Type.String({ minLength: 1, pattern: "^[A-Za-z0-9.-]+$" })),
  /** Port to listen on (PDS_PORT). @default 2583 */
  port: Type.Optional(port),
  /** Address to bind. @default "0.0.0.0" */
  bind: Type.Optional(Type.String({ minLength: 1 })),
  /** Public URL (PDS_PUBLIC_URL). @default `https://<hostname>`, or `http://localhost:<port>` for localhost */
  publicUrl: Type.Optional(httpUrl),
  /** The server's DID (PDS_SERVICE_DID). @default `did:web:<hostname>` */
  did: Type.Optional(Type.String({ pattern: "^did:[a-z]+:[A-Za-z0-9._:%-]+$" })),
  /** Handle suffixes users may register (PDS_SERVICE_HANDLE_DOMAINS). @default [".test"] on localhost, else [`.<hostname>`] */
  handleDomains: Type.Optional(Type.Array(Type.String({ pattern: "^\\.[a-z0-9.-]+$" }), { minItems: 1 })),
  /**
   * The moderation service (e.g. an Ozone instance) whose service-auth JWTs may call the moderation
   * methods of com.atproto.admin.* (takedowns, subject status, account info), as the admin can
   * (PDS_MOD_SERVICE_DID). Its `#atproto_labeler` key is accepted too.
   * @default none: only the admin's HTTP Basic
   */
  modServiceDid: Type.Optional(Type.String({ pattern: "^did:[a-z]+:[A-Za-z0-9._:%-]+$" })),
  /** New accounts need an invite code (PDS_INVITE_REQUIRED). @default true */
  inviteRequired: Type.Optional(Type.Boolean()),
  /** Development mode (PDS_DEV_MODE): secrets are generated when missing. @default true when hostname is localhost */
  devMode: Type.Optional(Type.Boolean()),
  /** Largest blob upload in bytes (PDS_BLOB_UPLOAD_LIMIT). @default 104857600 */
  blobUploadLimit: Type.Optional(Type.Integer({ minimum: 1 })),
  /**
   * Writers of one repository that may wait on this node while another of its writes runs; further ones
   * get 429 RateLimitExceeded (PDS_REPO_WRITE_QUEUE_MAX). Waiting writers hold no database connection.
   * @default 16
   */
  repoWriteQueueMax: Type.Optional(Type.Integer({ minimum: 1 })),
  /**
   * Largest repository CAR com.atproto.repo.importRepo takes, in bytes (PDS_MAX_REPO_IMPORT_SIZE). The CAR
   * is verified in memory, which peaks at about 40× its size (measured: a 7.4 MB CAR of 30,000 records,
   * +293 MB), so the default is well below the reference's (the blob upload limit, 100 MB): raise it on a
   * machine with the memory for it. @default 33554432 (32 MiB)
   */
  maxImportSize: Type.Optional(Type.Integer({ minimum: 1024 })),
  /** Largest JSON request body in bytes. @default 153600 */
  maxJsonBodyBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
  /** Contact address in describeServer (PDS_CONTACT_EMAIL_ADDRESS). */
  contactEmail: Type.Optional(Type.String({ minLength: 3 })),
  /** Privacy policy link in describeServer (PDS_PRIVACY_POLICY_URL). */
  privacyPolicyUrl: Type.Optional(httpUrl),
  /** Terms of service link in describeServer (PDS_TERMS_OF_SERVICE_URL). */
  termsOfServiceUrl: Type.Optional(httpUrl),
  /** Milliseconds to let in-flight requests finish on SIGTERM. @default 10000 */
  shutdownTimeoutMs: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Run pending database migrations when `serve` starts. @default true */
  migrateOnStart: Type.Optional(Type.Boolean()),
}, strict);

export const SecretsSchema = Type.Object({
  /** HMAC key for session JWTs (PDS_JWT_SECRET). Generated in dev mode when missing. */
  jwtSecret: Type.Optional(Type.String({ minLength: 16 })),
  /** Password of the `admin` user for admin endpoints (PDS_ADMIN_PASSWORD). Generated in dev mode. */
  adminPassword: Type.Optional(Type.String({ minLength: 8 })),
  /** secp256k1 private key, 64 hex chars, for PLC operations (PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX). Generated in dev mode. */
  plcRotationKeyHex: Type.Optional(Type.String({ pattern: "^[0-9a-fA-F]{64}$" })),
}, strict);

export const CachingSchema = Type.Object({
  /** Cache identity and session lookups (CACHE_ENABLED). @default true */
  enabled: Type.Optional(Type.Boolean()),
  /** Seconds, when no category TTL applies (CACHE_DEFAULT_TTL). @default 300 */
  defaultTtl: Type.Optional(seconds),
  /** DID documents, seconds (CACHE_DID_DOC_TTL). @default 3600 */
  didDocTtl: Type.Optional(seconds),
  /** Handle resolution, seconds (CACHE_HANDLE_TTL). @default 1800 */
  handleTtl: Type.Optional(seconds),
  /** Session validation, seconds (CACHE_SESSION_TTL). @default 600 */
  sessionTtl: Type.Optional(seconds),
  /** Repository metadata, seconds. @default 300 */
  repoTtl: Type.Optional(seconds),
}, strict);

const algorithm = Type.Union(ALGORITHMS.map((a) => Type.Literal(a)));
const ipList = Type.Array(Type.String({ minLength: 1, description: "an IP address or CIDR range" }));

export const RateLimitRuleSchema = Type.Object({
  /** What the rule counts by: "ip", "did", "did-ip", "identifier-ip" (createSession's body), "email-ip" or "email" (the body's). */
  key: Type.Union(KEY_KINDS.map((k) => Type.Literal(k))),
  /** Every limit must allow a request (e.g. 30 per 5 minutes and 300 per day). */
  limits: Type.Array(
    Type.Object({
      /** Points per window. */
      limit: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
      /** Window length in milliseconds (at most 7 days). */
      windowMs: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 * 1000 }),
      /** @default "fixed-window" */
      algorithm: Type.Optional(algorithm),
    }, strict),
    { minItems: 1 },
  ),
}, strict);

export const RateLimitSchema = Type.Object({
  /** Enforce rate limits (PDS_RATE_LIMITS_ENABLED). @default true */
  enabled: Type.Optional(Type.Boolean()),
  /** Share counters through the cache plugin (RATE_LIMIT_DISTRIBUTED). @default false */
  distributed: Type.Optional(Type.Boolean()),
  /** Requests per minute per DID (RATE_LIMIT_AUTHENTICATED). @default 6000 */
  authenticated: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  /** Requests per minute per client IP (RATE_LIMIT_UNAUTHENTICATED). @default 600 */
  unauthenticated: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  /** Requests per minute for admin calls (RATE_LIMIT_ADMIN). @default 60000 */
  admin: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  /** Algorithm of the three per-minute tiers. @default "fixed-window" */
  tierAlgorithm: Type.Optional(algorithm),
  /**
   * Per-route rules by name, merged over the built-in ones (src/rate-limit/rules.ts:
   * create-session, create-account, repo-write, upload-blob, update-handle,
   * request-password-reset, reset-password, request-email-*, ...); a rule given here replaces the built-in of that name.
   * @default the reference PDS's limits
   */
  rules: Type.Optional(Type.Record(Type.String({ pattern: "^[a-z0-9][a-z0-9-]*$" }), RateLimitRuleSchema)),
  /**
   * Rules each XRPC method counts against, by NSID, merged over the built-in table; `[]` lifts a method's rules.
   * `points` is what one request costs (repo writes: create 3, update 2, delete 1).
   * @default the reference PDS's table
   */
  routes: Type.Optional(
    Type.Record(
      Type.String({ pattern: "^[a-zA-Z][a-zA-Z0-9-]*(\\.[a-zA-Z0-9-]+)+$" }),
      Type.Array(Type.Object({ rule: Type.String({ minLength: 1 }), points: Type.Optional(Type.Integer({ minimum: 1 })) }, strict)),
    ),
  ),
  /**
   * Peers whose X-Forwarded-For / X-Real-IP are believed (addresses or CIDR ranges, e.g. your nginx).
   * @default loopback, private and link-local ranges, like the reference PDS
   */
  trustedProxies: Type.Optional(ipList),
  /** Requests with this value in the `x-ratelimit-bypass` header skip every limit (PDS_RATE_LIMIT_BYPASS_KEY). */
  bypassKey: Type.Optional(Type.String({ minLength: 16 })),
  /** Client IPs or ranges that skip every limit (PDS_RATE_LIMIT_BYPASS_IPS). @default [] */
  bypassIps: Type.Optional(ipList),
}, strict);

export const FirehoseSchema = Type.Object({
  /**
   * How far back a subscribeRepos cursor may reach, in hours; an older cursor gets an OutdatedCursor
   * `#info` and starts at the window's edge (PDS_REPO_BACKFILL_LIMIT_MS, in ms). @default 72
   */
  backfillHours: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  /** Live events one subscriber may have waiting before it is closed with ConsumerTooSlow (PDS_FIREHOSE_MAX_BUFFERED_EVENTS). @default 500 */
  maxBufferedEvents: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Milliseconds between WebSocket pings; a subscriber that has not answered the previous ping is cut (PDS_FIREHOSE_KEEPALIVE_MS). @default 30000 */
  keepaliveMs: Type.Optional(Type.Integer({ minimum: 50 })),
  /** Milliseconds between reads of the event table when no notification arrives: the fallback (PDS_SEQUENCER_POLL_MS). @default 1000 */
  pollIntervalMs: Type.Optional(Type.Integer({ minimum: 10 })),
  /** Open subscriptions this node accepts; past it an upgrade is refused with 503 (PDS_FIREHOSE_MAX_SUBSCRIBERS). @default 5000 */
  maxSubscribers: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Open subscriptions from one client IP on this node; past it 429 (PDS_FIREHOSE_MAX_SUBSCRIBERS_PER_IP). @default 50 */
  maxSubscribersPerIp: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Cursor replays reading the event table at once; the others wait their turn page by page (PDS_FIREHOSE_MAX_BACKFILLS). @default 4 */
  maxConcurrentBackfills: Type.Optional(Type.Integer({ minimum: 1 })),
}, strict);

/** A service calls are proxied to: its endpoint and the DID its service-auth tokens are addressed to. */
const ProxiedServiceSchema = Type.Object({ url: httpUrl, did: Type.String({ pattern: "^did:" }) }, strict);

export const ProxySchema = Type.Object({
  /** Milliseconds until a proxied call's upstream has answered with its headers, connecting included; then 504 UpstreamTimeout (PDS_PROXY_HEADERS_TIMEOUT). @default 10000 */
  headersTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Milliseconds a proxied call may take in all, its response body streamed included; a body still streaming then is cut (PDS_PROXY_TIMEOUT_MS). @default 60000 */
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Largest upstream response body in bytes; a bigger one is 502 UpstreamFailure, or cut once streaming (PDS_PROXY_MAX_RESPONSE_SIZE). @default 10485760 */
  maxResponseBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
}, strict);

const smtpUrl = Type.String({ pattern: "^smtps?://[^\\s]+$", description: "an smtp:// or smtps:// URL" });

export const EmailSchema = Type.Object({
  /**
   * SMTP server for account mail (PDS_EMAIL_SMTP_URL): `smtps://user:pass@host:465` for TLS from the
   * first byte, `smtp://user:pass@host:587` for STARTTLS when the server offers it.
   * @default none: mail is not sent (dev mode logs it); token flows still work
   */
  smtpUrl: Type.Optional(smtpUrl),
  /** Sender of account mail (PDS_EMAIL_FROM_ADDRESS). @default `noreply@<hostname>` */
  fromAddress: Type.Optional(Type.String({ minLength: 3 })),
  /** SMTP server for moderation mail (PDS_MODERATION_EMAIL_SMTP_URL). @default none: moderation mail is not sent */
  moderationSmtpUrl: Type.Optional(smtpUrl),
  /** Sender of moderation mail (PDS_MODERATION_EMAIL_ADDRESS). @default the account mail sender */
  moderationAddress: Type.Optional(Type.String({ minLength: 3 })),
  /**
   * Milliseconds an API call waits for its mail to be handed to the SMTP server (PDS_EMAIL_SEND_TIMEOUT_MS);
   * a slower send goes on in the background and its outcome is logged and counted.
   * @default 5000
   */
  sendTimeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
}, strict);

export const MetricsSchema = Type.Object({
  /**
   * Bearer token `/metrics` requires (`Authorization: Bearer <token>`), compared in constant time;
   * without it a scrape gets 401 (PDS_METRICS_TOKEN). @default none: no token needed
   */
  token: Type.Optional(Type.String({ minLength: 16 })),
  /**
   * Client IPs or CIDR ranges allowed to scrape `/metrics`, as the rate limiter sees the client
   * (forwarding headers only from `rateLimit.trustedProxies`); others get 403 (PDS_METRICS_ALLOW_IPS).
   * @default [] (any address)
   */
  allowIps: Type.Optional(ipList),
}, strict);

export const AdminSchema = Type.Object({
  /**
   * Serve the admin web page at `/admin` (PDS_ADMIN_UI): sign-in with the admin password, server health,
   * key figures, accounts, invite codes and the moderation log. Off, `/admin` is 404.
   * @default false
   */
  ui: Type.Optional(Type.Boolean()),
}, strict);

export const UserConfigSchema = Type.Object(
  {
    service: Type.Optional(ServiceSchema),
    /** Data directory for files, relative to the working directory (PDS_DATA_DIRECTORY). @default "./data" */
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    secrets: Type.Optional(SecretsSchema),
    identity: Type.Optional(
      Type.Object({
        /**
         * PLC directory (PDS_DID_PLC_URL), or "embedded": a did:plc directory inside this process on
         * 127.0.0.1, for local development only (dev mode on localhost; identities are not published).
         * @default "https://plc.directory" (`aurora dev`: "embedded")
         */
        plcUrl: Type.Optional(
          Type.String({ pattern: "^(?:https?://[^\\s]+|embedded)$", description: 'an http(s) URL or "embedded"' }),
        ),
        /** Port of the embedded PLC directory on 127.0.0.1 (PDS_EMBEDDED_PLC_PORT). @default a free port */
        embeddedPlcPort: Type.Optional(port),
        /**
         * Let did:web and handle lookups reach loopback, private and other non-public addresses, and
         * `did:web:localhost` over plain http (PDS_SSRF_ALLOW_PRIVATE). Only for tests and local setups
         * whose identities live on a private network: on a public server it lets anyone make it fetch
         * internal URLs. Independent of dev mode.
         * @default false
         */
        allowPrivateAddresses: Type.Optional(Type.Boolean()),
      }, strict),
    ),
    /** Relays told to crawl us after new events (PDS_CRAWLERS). @default [] */
    crawlers: Type.Optional(Type.Array(httpUrl)),
    /** subscribeRepos: backfill window, per-subscriber buffer, keepalive, polling. */
    firehose: Type.Optional(FirehoseSchema),
    /** AppView that app.bsky.* calls are proxied to (PDS_BSKY_APP_VIEW_URL / _DID). */
    appView: Type.Optional(
      Type.Object({
        url: httpUrl,
        did: Type.String({ pattern: "^did:" }),
        /**
         * Image CDN for the viewer's own blobs in read-after-write views (PDS_BSKY_APP_VIEW_CDN_URL_PATTERN):
         * `%s` placeholders for the preset (avatar, banner, feed_thumbnail, feed_fullsize), the DID and the CID.
         * @default none: com.atproto.sync.getBlob on this server's public URL
         */
        cdnUrlPattern: Type.Optional(Type.String({ minLength: 1 })),
      }, strict),
    ),
    /** Chat service chat.bsky.* calls go to without an atproto-proxy header (PDS_CHAT_URL / PDS_CHAT_DID). @default none: such calls are 501 */
    chat: Type.Optional(ProxiedServiceSchema),
    /** Moderation service com.atproto.moderation.createReport goes to without an atproto-proxy header (PDS_REPORT_SERVICE_URL / _DID). @default none: 501 */
    reportService: Type.Optional(ProxiedServiceSchema),
    /** Service proxying: timeouts and the response size cap. */
    proxy: Type.Optional(ProxySchema),
    log: Type.Optional(
      Type.Object({
        /** (LOG_LEVEL) @default "info" */
        level: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)))),
      }, strict),
    ),
    /** Database backend: `sqlite()` or `postgres({ url })`. @default sqlite() */
    db: Type.Optional(pluginSlot<DatabasePlugin>("db", "a database plugin such as sqlite() or postgres()", DATABASE_METHODS)),
    /** Blob storage backend: `disk()` or `s3({ bucket })`. @default disk() */
    blobs: Type.Optional(pluginSlot<BlobStorePlugin>("blobs", "a blob storage plugin such as disk() or s3()", BLOB_STORE_METHODS)),
    /** Cache backend: `memory()` or `redis({ url })`. @default memory() */
    cache: Type.Optional(
      pluginSlot<CachePlugin>("cache", "a cache plugin such as memory() or redis()", CACHE_METHODS),
    ),
    caching: Type.Optional(CachingSchema),
    rateLimit: Type.Optional(RateLimitSchema),
    /** Outgoing mail: email confirmation, password reset, sign-in codes. */
    email: Type.Optional(EmailSchema),
    /** Who may scrape `/metrics`: a bearer token and/or an IP allow-list; both apply when both are set. */
    metrics: Type.Optional(MetricsSchema),
    /** The admin web page. */
    admin: Type.Optional(AdminSchema),
  },
  strict,
);

export type UserConfig = Static<typeof UserConfigSchema>;
