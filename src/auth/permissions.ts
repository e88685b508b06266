import type {
  AccountPermissionMatch,
  IdentityPermissionMatch,
  RepoPermissionMatch,
  ScopePermissionsTransition,
} from "@atproto/oauth-scopes";
import { AccountPermission, BlobPermission, IdentityPermission, RepoPermission, RpcPermission } from "@atproto/oauth-scopes";
import { ForbiddenError, XrpcError } from "@/errors";
import type { XrpcMethod } from "@/xrpc/method";
import type { Caller } from "./types";

/*
 * What an OAuth token may do, checked against the scopes the user granted.
 * Every helper is a no-op for callers without an OAuth grant (password
 * sessions, app passwords, service auth, the admin): their rules are the auth
 * mode's, unchanged. An OAuth caller lacking the permission gets 403
 * ScopeMissingError naming the scope it would need, as the reference PDS
 * answers (its ScopeMissingError passes through xrpc-server as status 403 with
 * the error's name).
 */

/** 403 ScopeMissingError: the OAuth token lacks `scope`. */
export class MissingScopeError extends XrpcError {
  constructor(readonly scope: string) {
    super(403, "ScopeMissingError", `Missing required scope "${scope}"`);
  }
}

/** What the reference answers an OAuth token calling a method OAuth may not use at all. */
export const OAUTH_NOT_SUPPORTED = "OAuth credentials are not supported for this endpoint";

type RepoAction = RepoPermissionMatch["action"];

const grantOf = (caller: Caller | null | undefined): ScopePermissionsTransition | null => caller?.oauth?.permissions ?? null;

/** 403 Forbidden for an OAuth caller: the method is for password sessions only (app passwords, account deletion, ...). */
export function refuseOAuth(caller: Caller | null | undefined, message = OAUTH_NOT_SUPPORTED): void {
  if (grantOf(caller)) throw new ForbiddenError(message);
}

/** `repo:<collection>?action=<action>`: writing records of a collection (transition:generic grants every write). */
export function assertRepo(caller: Caller | null | undefined, action: RepoAction, collection: string): void {
  const p = grantOf(caller);
  if (p && !p.allowsRepo({ action, collection })) throw new MissingScopeError(RepoPermission.scopeNeededFor({ action, collection }));
}

/** Every distinct action/collection pair of a batch of writes (applyWrites), each checked once, in order. */
export function assertRepoWrites(caller: Caller | null | undefined, writes: Iterable<{ action: RepoAction; collection: string }>): void {
  if (!grantOf(caller)) return;
  const seen = new Set<string>();
  for (const { action, collection } of writes) {
    const key = `${action} ${collection}`;
    if (seen.has(key)) continue;
    seen.add(key);
    assertRepo(caller, action, collection);
  }
}

/** `blob:<mime>`: uploading a blob of this MIME type (the type part only; parameters are dropped, case folded). */
export function assertBlob(caller: Caller | null | undefined, mime: string): void {
  const p = grantOf(caller);
  if (!p) return;
  const type = mime.split(";")[0]!.trim().toLowerCase();
  if (!p.allowsBlob({ mime: type })) throw new MissingScopeError(BlobPermission.scopeNeededFor({ mime: type }));
}

/**
 * `rpc:<lxm>?aud=<aud>`: calling method `lxm` of service `aud` (`did#serviceId`) through us, or
 * getting a service-auth token for it. `lxm` "*" asks for every method; `aud` "*" asks for a grant
 * valid for any audience (what remains when no service is known). transition:generic grants
 * everything but chat.bsky.*, transition:chat.bsky grants chat.bsky.*.
 */
export function assertRpc(caller: Caller | null | undefined, lxm: string, aud: string): void {
  const p = grantOf(caller);
  if (p && !p.allowsRpc({ lxm, aud })) throw new MissingScopeError(RpcPermission.scopeNeededFor({ lxm, aud }));
}

/**
 * `account:<attr>?action=<action>`: the account's email, repository (import) or hosting status.
 * transition:email grants reading the email; transition:generic grants none of these.
 */
export function assertAccount(caller: Caller | null | undefined, attr: AccountPermissionMatch["attr"], action: AccountPermissionMatch["action"]): void {
  const p = grantOf(caller);
  if (p && !p.allowsAccount({ attr, action })) throw new MissingScopeError(AccountPermission.scopeNeededFor({ attr, action }));
}

/** `identity:handle` (updateHandle) or `identity:*` (PLC operations); transition:generic grants neither. */
export function assertIdentity(caller: Caller | null | undefined, attr: IdentityPermissionMatch["attr"]): void {
  const p = grantOf(caller);
  if (p && !p.allowsIdentity({ attr })) throw new MissingScopeError(IdentityPermission.scopeNeededFor({ attr }));
}

/** Whether the caller may see the account's email address (getSession): always, unless an OAuth grant lacks account:email. */
export function canReadEmail(caller: Caller | null | undefined): boolean {
  const p = grantOf(caller);
  return !p || p.allowsAccount({ attr: "email", action: "read" });
}

/**
 * The dispatch-time gate for an OAuth caller of `method` (see XrpcMethod.oauth): 403 Forbidden when
 * the method refuses OAuth or declares nothing (a method nobody has decided about stays closed);
 * otherwise the method's own check to run once params and input are decoded, or null when the
 * `atproto` scope is enough. Null for callers without an OAuth grant.
 */
export function oauthGate(method: Pick<XrpcMethod, "oauth">, caller: Caller | null): Extract<XrpcMethod["oauth"], Function> | null {
  if (!grantOf(caller)) return null;
  const rule = method.oauth;
  if (rule === undefined || rule === "refused") throw new ForbiddenError(OAUTH_NOT_SUPPORTED);
  return rule === "atproto" ? null : rule;
}

/** The configured AppView as an rpc audience (`did#bsky_appview`), or "*" when none is configured. */
export function appViewAudience(config: { readonly appView?: { readonly did: string } }): string {
  return config.appView ? `${config.appView.did}#bsky_appview` : "*";
}
