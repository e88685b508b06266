import { Secp256k1Keypair } from "@atproto/crypto";
import { type AuthVerifier, createAuthVerifier } from "@/auth/verifier";
import { createServiceAuthVerifier } from "@/auth/service-auth";
import { type SessionStore, createSessionStore } from "@/auth/sessions";
import { createTokenSigner } from "@/auth/tokens";
import type { CacheAside } from "@/cache/aside";
import type { RunConfig } from "@/config/resolve";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import { createDidResolver } from "@/identity/did-resolver";
import { createHandleResolver } from "@/identity/handle-resolver";
import { createPlcClient } from "@/identity/plc";
import { type IdentityResolver, createIdentityResolver } from "@/identity/resolver";
import type { SafeFetchOptions } from "@/identity/safe-fetch";
import type { Logger } from "@/log";
import { type Mailer, createMailer } from "@/mail/mailer";
import type { RateLimits } from "@/rate-limit/limiter";
import type { Sequencer } from "@/sequencer/sequencer";
import { type OAuthServer, createOAuthServer } from "@/oauth";
import { Registry } from "prom-client";
import { type EmailTokens, createEmailTokens } from "./email-tokens";
import { type ReservedKeys, createReservedKeys } from "./reserved-keys";
import { type AccountService, createAccountService } from "./service";
import { createSigningKeyVault } from "./signing-keys";

export interface AccountServices {
  readonly identity: IdentityResolver;
  readonly accounts: AccountService;
  readonly auth: AuthVerifier;
  /** Outgoing mail; closed with the context (`mailer.close()`). */
  readonly mailer: Mailer;
  /** The one email-token mechanism (confirm, change email, reset password, delete, PLC, sign-in codes). */
  readonly emailTokens: EmailTokens;
  /** Signing keys reserved for accounts moving here (com.atproto.server.reserveSigningKey). */
  readonly reservedKeys: ReservedKeys;
  /** The OAuth authorization server (its routes) and the resource server's DPoP token check. */
  readonly oauth: OAuthServer;
  /** Sessions (password, app password and OAuth): admin actions revoke them and drop their cached rows. */
  readonly sessions: SessionStore;
}

/**
 * Build identity resolution, accounts and request authentication over the
 * initialised backends. Session lookups go through the cache only when the
 * cache is as shared as the database: a per-process cache in front of a
 * database that several nodes share could keep a session revoked on another
 * node alive until its TTL.
 */
export async function createAccountServices(deps: {
  config: RunConfig;
  db: DatabasePlugin;
  cache: CachePlugin;
  cached: CacheAside;
  sequencer: Sequencer;
  rateLimits: Pick<RateLimits, "consumePoints" | "refund">;
  log: Logger;
  /** Where the mailer's metrics go; without it they are kept but not exported. */
  registry?: Registry;
  /** Tests: how OAuth client metadata is fetched (see ContextOverrides). */
  oauthClientFetch?: Pick<SafeFetchOptions, "lookup" | "ca">;
}): Promise<AccountServices> {
  const { config, db, cached } = deps;
  const mailer = createMailer({ config, log: deps.log, registry: deps.registry ?? new Registry() });
  const emailTokens = createEmailTokens({ db: () => db.db() });
  // Its own setting, never implied by dev mode: a dev-mode server on a reachable address is still an SSRF target.
  const allowPrivate = config.identity.allowPrivateAddresses;
  const plc = createPlcClient(config.identity.plcUrl);
  const identity = createIdentityResolver({
    cached,
    resolveDid: createDidResolver({ plc, allowPrivate }),
    resolveHandle: createHandleResolver({ allowPrivate }),
  });
  const tokens = createTokenSigner(config.secrets.jwtSecret, config.service.did);
  const sessions = createSessionStore({
    db: () => db.db(),
    transaction: (fn) => db.transaction(fn),
    tokens,
    cached,
    cacheLookups: deps.cache.shared || !db.shared,
  });
  const vault = createSigningKeyVault(config.secrets.plcRotationKeyHex);
  const reservedKeys = createReservedKeys(db, vault);
  const accounts = createAccountService({
    config,
    db,
    identity,
    plc,
    rotationKey: await Secp256k1Keypair.import(config.secrets.plcRotationKeyHex, { exportable: true }),
    vault,
    reservedKeys,
    sessions,
    mailer,
    emailTokens,
    sequencer: deps.sequencer,
    rateLimits: deps.rateLimits,
    log: deps.log.child({ service: "account" }),
  });
  // Replayed service-auth jtis are counted in the cache slot: cluster-wide with Redis, per node with memory().
  const serviceAuth = createServiceAuthVerifier({ serviceDid: config.service.did, resolveDid: identity.resolveDid, cache: deps.cache });
  const oauth = createOAuthServer({
    issuer: config.service.publicUrl,
    serviceDid: config.service.did,
    jwtSecret: config.secrets.jwtSecret,
    allowPrivateAddresses: allowPrivate,
    db,
    cache: deps.cache,
    accounts,
    sessions,
    log: deps.log,
    ...(deps.oauthClientFetch ? { clientFetch: deps.oauthClientFetch } : {}),
  });
  const auth = createAuthVerifier({
    tokens,
    sessions,
    adminPassword: config.secrets.adminPassword,
    serviceAuth,
    oauth: oauth.resource,
    modServiceDid: config.service.modServiceDid,
  });
  return { identity, accounts, mailer, emailTokens, reservedKeys, oauth, auth, sessions };
}
