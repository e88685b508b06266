import { InvalidRequestError } from "@/errors";
import { isAtprotoDidRef } from "./service-ref";
import type { Caller } from "./types";

/** A set of XRPC methods, matched case-insensitively as the reference does (NSID authorities are case-insensitive). */
export class MethodSet {
  private readonly lower: ReadonlySet<string>;
  constructor(readonly methods: readonly string[]) {
    this.lower = new Set(methods.map((m) => m.toLowerCase()));
  }
  has(nsid: string): boolean {
    return this.lower.has(nsid.toLowerCase());
  }
}

export const CREATE_ACCOUNT = "com.atproto.server.createAccount";

/** The chat service's methods (the reference's list): reachable only with a full session or a privileged app password. */
export const CHAT_METHODS = new MethodSet([
  "chat.bsky.actor.deleteAccount",
  "chat.bsky.actor.exportAccountData",
  "chat.bsky.convo.deleteMessageForSelf",
  "chat.bsky.convo.getConvo",
  "chat.bsky.convo.getConvoForMembers",
  "chat.bsky.convo.getLog",
  "chat.bsky.convo.getMessages",
  "chat.bsky.convo.leaveConvo",
  "chat.bsky.convo.listConvos",
  "chat.bsky.convo.muteConvo",
  "chat.bsky.convo.sendMessage",
  "chat.bsky.convo.sendMessageBatch",
  "chat.bsky.convo.unmuteConvo",
  "chat.bsky.convo.updateRead",
]);

/** Methods a plain app password may neither call through a proxy nor get service auth for. */
export const PRIVILEGED_METHODS = new MethodSet([...CHAT_METHODS.methods, CREATE_ACCOUNT]);

/**
 * Account management, used directly with the account's own PDS and never
 * proxied or service-authed, by anyone (the reference's list).
 */
export const PROTECTED_METHODS = new MethodSet([
  "com.atproto.admin.sendEmail",
  "com.atproto.identity.requestPlcOperationSignature",
  "com.atproto.identity.signPlcOperation",
  "com.atproto.identity.updateHandle",
  "com.atproto.server.activateAccount",
  "com.atproto.server.confirmEmail",
  "com.atproto.server.createAppPassword",
  "com.atproto.server.deactivateAccount",
  "com.atproto.server.getAccountInviteCodes",
  "com.atproto.server.getSession",
  "com.atproto.server.listAppPasswords",
  "com.atproto.server.requestAccountDelete",
  "com.atproto.server.requestEmailConfirmation",
  "com.atproto.server.requestEmailUpdate",
  "com.atproto.server.revokeAppPassword",
  "com.atproto.server.updateEmail",
]);

const MINUTE = 60;
const HOUR = 60 * MINUTE;

export interface ServiceAuthRequest {
  readonly aud: string;
  /** Unix seconds; absent for the default lifetime. */
  readonly exp?: number;
  readonly lxm?: string;
}

/**
 * The reference PDS's rules for com.atproto.server.getServiceAuth: the
 * audience is a DID or `did#service`; a taken-down account may only ask for
 * createAccount (moving out); privileged methods need a full session or a
 * privileged app password; `exp` is in the future, at most an hour away, and
 * at most a minute for a token not bound to a method; protected methods
 * are never granted. Throws 400 (BadExpiration, InvalidToken, InvalidRequest).
 */
export function checkServiceAuthRequest(caller: Caller, req: ServiceAuthRequest, nowMs = Date.now()): void {
  const { aud, exp, lxm } = req;
  if (!isAtprotoDidRef(aud)) throw new InvalidRequestError("aud must be a valid atproto DID or did#serviceId reference");
  if (caller.status === "takendown" && lxm !== CREATE_ACCOUNT) throw new InvalidRequestError("Bad token scope", "InvalidToken");
  if (lxm !== undefined && PRIVILEGED_METHODS.has(lxm) && caller.kind === "appPass") {
    throw new InvalidRequestError(`insufficient access to request a service auth token for the following method: ${lxm}`);
  }
  if (exp !== undefined) {
    const ahead = exp - nowMs / 1000;
    if (ahead < 0) throw new InvalidRequestError("expiration is in past", "BadExpiration");
    if (ahead > HOUR) throw new InvalidRequestError("cannot request a token with an expiration more than an hour in the future", "BadExpiration");
    if (lxm === undefined && ahead > MINUTE) {
      throw new InvalidRequestError("cannot request a method-less token with an expiration more than a minute in the future", "BadExpiration");
    }
  }
  if (lxm !== undefined && PROTECTED_METHODS.has(lxm)) {
    throw new InvalidRequestError(`cannot request a service auth token for the following protected method: ${lxm}`);
  }
}
