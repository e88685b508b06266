import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { AppContext } from "@/app-context";
import type { AccountStatusRule, AuthMode, Caller } from "@/auth/types";

/** What a handler receives: decoded and validated params and input, and the verified caller. */
export interface XrpcCall<P, I> {
  ctx: AppContext;
  params: P;
  input: I;
  /** Null for `auth: "none"` and for an absent token under "optional". */
  auth: Caller | null;
  request: Request;
  /** The client's IP address as the rate limiter sees it (forwarding headers only from trusted proxies). */
  ip: string;
  /**
   * Subscriptions only: turn this request into a WebSocket carrying `data`;
   * false when it is not a WebSocket upgrade or the socket could not be
   * upgraded (in process, without a server, it is always false).
   */
  upgrade: (data: unknown) => boolean;
}

/**
 * What an OAuth access token needs to call a method, on top of the `atproto` scope every OAuth token
 * carries (password sessions and app passwords never look at it):
 * - "atproto": nothing more (the caller's own session and status, public or own data);
 * - "refused": OAuth tokens may not call it at all, whatever their scopes: 403 Forbidden (app
 *   passwords, account deletion and activation, changing the email address, invite codes);
 * - a function: checks the call with the helpers of src/auth/permissions.ts (repo, blob, rpc,
 *   account, identity); dispatch runs it for OAuth callers only, once params and input are
 *   decoded, before the handler.
 * A method taking access tokens without a declaration refuses OAuth tokens, and
 * test/auth/permissions.test.ts fails until one is written.
 */
export type OAuthRule<C = XrpcCall<any, any>> = "atproto" | "refused" | ((call: C) => Promise<void> | void);

/** A JSON object to send as the response body, a ready Response (streams), or nothing (empty 200). */
export type XrpcOutput = object | Response | void;

export interface XrpcMethod {
  /** query: GET; procedure: POST; subscription: a GET that becomes a WebSocket (event stream). */
  readonly type: "query" | "procedure" | "subscription";
  /** @default "none" */
  readonly auth?: AuthMode;
  /** Which accounts' tokens may call it, by hosting status. @default "active" ("any" under auth "optional") */
  readonly accountStatus?: AccountStatusRule;
  /** What an OAuth token needs (see OAuthRule); only for methods taking access tokens. */
  readonly oauth?: OAuthRule;
  /** Query-string parameters; values are converted to the schema's types. */
  readonly params?: TObject;
  /** JSON request body of a procedure; absent means the procedure takes no body. */
  readonly input?: TSchema;
  // The params and input types are erased in the route table; `query`/`procedure` keep them for the handler.
  readonly handler: (call: XrpcCall<any, any>) => Promise<XrpcOutput> | XrpcOutput;
}

type EmptyParams = TObject<{}>;

/** What a query or subscription declares: who may call it, its params and its handler (no body). */
interface BodylessDef<P extends TObject> {
  auth?: AuthMode;
  accountStatus?: AccountStatusRule;
  oauth?: OAuthRule<XrpcCall<Static<P>, undefined>>;
  params?: P;
  handler: (call: XrpcCall<Static<P>, undefined>) => Promise<XrpcOutput> | XrpcOutput;
}

/** Define a query (HTTP GET). */
export function query<P extends TObject = EmptyParams>(def: BodylessDef<P>): XrpcMethod {
  return { type: "query", ...def };
}

/** Define a procedure (HTTP POST). */
export function procedure<P extends TObject = EmptyParams, I extends TSchema = TSchema>(
  def: Omit<BodylessDef<P>, "handler" | "oauth"> & {
    input?: I;
    oauth?: OAuthRule<XrpcCall<Static<P>, Static<I>>>;
    handler: (call: XrpcCall<Static<P>, Static<I>>) => Promise<XrpcOutput> | XrpcOutput;
  },
): XrpcMethod {
  return { type: "procedure", ...def };
}

/** Define a subscription (a WebSocket event stream opened with GET). */
export function subscription<P extends TObject = EmptyParams>(def: BodylessDef<P>): XrpcMethod {
  return { type: "subscription", ...def };
}
