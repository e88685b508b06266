import { decodeJwt } from "jose";
import { AuthRequiredError, ForbiddenError, InvalidRequestError } from "@/errors";
import type { AccountStatus, AccountStatusRule, AuthMode, Caller } from "./types";
import { parseBasicAuth, secretsEqual } from "./basic";
import { type ServiceAuthVerifier, isServiceJwt } from "./service-auth";
import type { SessionStore } from "./sessions";
import { type AccessScope, SCOPE, type TokenSigner } from "./tokens";
import { isDpopBound } from "@/oauth/access-token";
import type { OAuthResource } from "@/oauth/resource";

/** Checks the credentials of a request against an XRPC method's auth mode. */
export interface AuthVerifier {
  /**
   * The verified caller, or null when the mode allows no credentials and
   * none were sent. Throws 401 AuthenticationRequired when credentials are
   * missing or wrong, 400 ExpiredToken / InvalidToken for bad tokens, and
   * 400 InvalidToken when a token's scope is below what the mode needs.
   * A token's account must also pass `accountStatus` (see AccountStatusRule):
   * 401 AccountTakedown / AccountDeactivated, 403 AccountNotFound.
   * Service-auth JWTs are bound to `nsid`, the called method (dispatch passes
   * the matched route's NSID); their refusals are 401 (see ServiceAuthVerifier).
   */
  verify(mode: AuthMode, request: Request, opts?: { accountStatus?: AccountStatusRule; nsid?: string }): Promise<Caller | null>;
  /** HTTP Basic `admin:<admin password>`, compared in constant time. */
  isAdmin(request: Request): boolean;
}

const KIND_OF_SCOPE: Record<AccessScope, Caller["kind"]> = {
  [SCOPE.access]: "access",
  [SCOPE.appPass]: "appPass",
  [SCOPE.appPassPrivileged]: "appPassPrivileged",
  [SCOPE.takendown]: "takendown",
};

/**
 * The methods a taken-down account's limited session (createSession with
 * `allowTakendown`) may call, as in the reference: enough to deactivate, read
 * its preferences, report, and move its identity and data elsewhere. Every
 * other method refuses that token's scope.
 */
const TAKENDOWN_SESSION_METHODS: ReadonlySet<string> = new Set([
  "com.atproto.server.deactivateAccount",
  "com.atproto.server.getServiceAuth",
  "com.atproto.identity.requestPlcOperationSignature",
  "com.atproto.identity.signPlcOperation",
  "com.atproto.moderation.createReport",
  "app.bsky.actor.getPreferences",
]);

/** Which access scopes each token mode accepts. */
const SCOPES_OF_MODE: Partial<Record<AuthMode, readonly AccessScope[]>> = {
  optional: [SCOPE.access, SCOPE.appPassPrivileged, SCOPE.appPass],
  access: [SCOPE.access, SCOPE.appPassPrivileged, SCOPE.appPass],
  privileged: [SCOPE.access, SCOPE.appPassPrivileged],
  full: [SCOPE.access],
  "access-or-service": [SCOPE.access, SCOPE.appPassPrivileged, SCOPE.appPass],
};

/** The modes an OAuth access token can satisfy (never refresh, admin or service auth). */
const OAUTH_MODES: ReadonlySet<AuthMode> = new Set(["optional", "access", "privileged", "full", "access-or-service"]);

export function createAuthVerifier(deps: {
  tokens: TokenSigner;
  sessions: SessionStore;
  adminPassword: string;
  serviceAuth: ServiceAuthVerifier;
  /** OAuth access tokens (`Authorization: DPoP …`). */
  oauth: OAuthResource;
  /** The moderation service whose service auth "moderator" methods accept (service.modServiceDid); none: the admin only. */
  modServiceDid?: string;
}): AuthVerifier {
  const { tokens, sessions } = deps;

  const isAdmin = (request: Request) => {
    const basic = parseBasicAuth(request.headers.get("authorization"));
    // Compare the password even for another user name, so timing does not tell which part was wrong.
    const passwordOk = secretsEqual(basic?.password ?? "", deps.adminPassword);
    return basic !== null && basic.username === "admin" && passwordOk;
  };

  const admin = (request: Request): Caller => {
    if (!isAdmin(request)) throw new AuthRequiredError("Invalid admin credentials");
    return { kind: "admin" };
  };

  const access = async (token: string, allowed: readonly AccessScope[], rule: AccountStatusRule, nsid: string | undefined): Promise<Caller> => {
    const claims = await tokens.verifyAccess(token);
    const takendownOk = claims.scope === SCOPE.takendown && nsid !== undefined && TAKENDOWN_SESSION_METHODS.has(nsid);
    if (!allowed.includes(claims.scope) && !takendownOk) throw new InvalidRequestError("Bad token scope", "InvalidToken");
    const session = await sessions.lookup(claims.sessionId);
    if (!session || session.did !== claims.did) throw new InvalidRequestError("Token has been revoked", "ExpiredToken");
    // A session cached before it carried the status (an older node) is read afresh.
    const status = session.status === undefined ? await sessions.accountStatus(claims.did) : session.status;
    checkStatus(status, rule);
    return { kind: KIND_OF_SCOPE[claims.scope], did: claims.did, status, ...(session.appPasswordName ? { tokenId: session.appPasswordName } : {}) };
  };

  /**
   * An OAuth access token with its DPoP proof. OAuth callers are accepted
   * wherever an access token is; what they may do is the granted scope,
   * checked by each method (src/auth/permissions.ts).
   */
  const oauth = async (request: Request, token: string, rule: AccountStatusRule): Promise<Caller> => {
    const found = await deps.oauth.verify(request, token);
    checkStatus(found.status, rule);
    return { kind: "oauth", did: found.did, status: found.status, tokenId: found.tokenId, oauth: found.grant };
  };

  /** A service-auth JWT; `rule` when it must speak for an account hosted here, whose status the method allows. */
  const service = async (token: string, nsid: string, rule: AccountStatusRule | null): Promise<Caller> => {
    const claims = await deps.serviceAuth.verify(token, nsid);
    if (rule !== null) {
      // A user's own service auth is issued by the user's DID, signed with the account key.
      if (claims.iss !== claims.did) throw new AuthRequiredError("jwt iss must be the account's DID", "BadJwtIss");
      checkStatus(await sessions.accountStatus(claims.did), rule);
    }
    return { kind: "service", did: claims.did, iss: claims.iss, lxm: claims.lxm, tokenId: claims.jti };
  };

  /**
   * "moderator": a bearer token must be the moderation service's service auth (as the reference:
   * 401 UntrustedIss for any other issuer, checked before the issuer's DID is resolved); any other
   * credentials must be the admin's.
   */
  const moderator = async (request: Request, nsid: string | undefined): Promise<Caller> => {
    const [type, token] = splitAuthorization(request.headers.get("authorization"));
    if (type !== "bearer") return admin(request);
    const mod = deps.modServiceDid;
    if (!mod) throw new AuthRequiredError("Untrusted issuer", "UntrustedIss");
    if (nsid === undefined) throw new Error("service auth needs the called method's NSID");
    const iss = unverifiedIssuer(token);
    // An unreadable token falls through to the full check, which names what is wrong with it.
    if (iss !== null && iss !== mod && iss !== `${mod}#atproto_labeler`) throw new AuthRequiredError("Untrusted issuer", "UntrustedIss");
    const caller = await service(token, nsid, null);
    if (caller.did !== mod) throw new AuthRequiredError("Untrusted issuer", "UntrustedIss");
    return caller;
  };

  /** A user's own service auth when a bearer service JWT is sent; nothing otherwise. */
  const serviceOptional = async (request: Request, nsid: string | undefined): Promise<Caller | null> => {
    const header = request.headers.get("authorization")?.trim() ?? "";
    const [type, token] = header.split(/\s+/);
    if (type?.toLowerCase() !== "bearer" || !token || !isServiceJwt(token)) return null;
    if (nsid === undefined) throw new Error("service auth needs the called method's NSID");
    const caller = await service(token, nsid, null);
    if (caller.iss !== caller.did) throw new AuthRequiredError("jwt iss must be the account's DID", "BadJwtIss");
    return caller;
  };

  const refresh = async (token: string, rule: AccountStatusRule): Promise<Caller> => {
    const claims = await tokens.verifyRefresh(token);
    // Refresh tokens are rare (refresh, logout): their account is read only when the method cares.
    if (rule !== "any") checkStatus(await sessions.accountStatus(claims.did), rule);
    return { kind: "refresh", did: claims.did, tokenId: claims.tokenId };
  };

  return {
    isAdmin,
    async verify(mode, request, opts = {}) {
      const rule = opts.accountStatus ?? (mode === "optional" ? "any" : "active");
      if (mode === "none") return null;
      if (mode === "admin") return admin(request);
      if (mode === "moderator") return moderator(request, opts.nsid);
      if (mode === "service-optional") return serviceOptional(request, opts.nsid);
      const [type, token] = splitAuthorization(request.headers.get("authorization"));
      if (type === null) {
        if (mode === "optional") return null;
        throw new AuthRequiredError("Authorization header required");
      }
      if (type === "basic") {
        // Only the admin uses Basic; where a user token is required it is the wrong kind of credential.
        if (mode === "optional") return admin(request);
        throw new InvalidRequestError("Unexpected authorization type", "InvalidToken");
      }
      if (type === "dpop") {
        if (!OAUTH_MODES.has(mode)) throw new InvalidRequestError("Unexpected authorization type", "InvalidToken");
        return oauth(request, token, rule);
      }
      if (type !== "bearer") throw new InvalidRequestError(`Unsupported authorization type: ${type.slice(0, 32)}`, "InvalidToken");
      if (mode !== "refresh" && isDpopBound(token)) throw deps.oauth.boundTokenAsBearer();
      if (mode === "refresh") return refresh(token, rule);
      if (mode === "service" || (mode === "access-or-service" && isServiceJwt(token))) {
        const nsid = opts.nsid;
        if (nsid === undefined) throw new Error("service auth needs the called method's NSID");
        return service(token, nsid, mode === "service" ? null : rule);
      }
      const allowed = SCOPES_OF_MODE[mode];
      if (!allowed) throw new ForbiddenError(`Unknown auth mode ${mode}`);
      return access(token, allowed, rule, opts.nsid);
    },
  };
}

/** The reference PDS's answers: 401 for a status the method does not serve, 403 for an account that is gone. */
function checkStatus(status: AccountStatus | null, rule: AccountStatusRule): asserts status is AccountStatus {
  if (status === null) throw new ForbiddenError("Account not found", "AccountNotFound");
  if (rule === "any" || status === "active") return;
  if (status === "takendown") throw new AuthRequiredError("Account has been taken down", "AccountTakedown");
  if (rule === "active") throw new AuthRequiredError("Account is deactivated", "AccountDeactivated");
}

/** A JWT's `iss` claim before any check (null when it has none or is not a JWT): only to refuse early. */
function unverifiedIssuer(token: string): string | null {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : null;
  } catch {
    return null;
  }
}

/** `Scheme credentials` → [lower-case scheme, credentials]; [null, ""] when absent. */
function splitAuthorization(header: string | null): [string | null, string] {
  if (!header || header.trim() === "") return [null, ""];
  const parts = header.trim().split(/\s+/);
  if (parts.length !== 2) throw new InvalidRequestError("Malformed authorization header", "InvalidToken");
  return [parts[0]!.toLowerCase(), parts[1]!];
}
