/** The proxy as the rest of the server sees it (a leaf: the server context names it without importing the proxy). */
import type { Caller } from "@/auth/types";
import type { authOf } from "./policy";

export interface ProxyCall {
  readonly request: Request;
  readonly nsid: string;
  /** From the HTTP verb when absent (GET/HEAD query, POST procedure). */
  readonly type?: "query" | "procedure";
  /** The verified caller (see `authOf`); null forwards without service auth. */
  readonly caller: Caller | null;
  readonly ip?: string;
}

export interface Proxy {
  /**
   * Whether this request goes upstream. For a method Aurora does not serve
   * (`served` false): when it names a target (atproto-proxy header), has a
   * configured default (app.bsky.* → AppView, chat.bsky.* → chat,
   * createReport → report service), or is one the reference refuses (so it
   * gets its 400). For a method Aurora serves: only getPreferences /
   * putPreferences with a header naming another service than the configured
   * AppView; Aurora's own methods are never proxied otherwise.
   */
  wants(nsid: string, request: Request, served: boolean): boolean;
  /** The auth the request path verifies before `forward`. */
  authOf: typeof authOf;
  /** Send the call upstream with a fresh service-auth token for the caller, and relay the answer. */
  forward(call: ProxyCall): Promise<Response>;
  /** wants → verify (`authOf`) → forward, for the request path in one call. */
  serve(request: Request, nsid: string, ip?: string): Promise<Response>;
  /**
   * com.atproto.repo.getRecord of a repository not hosted here: passed to the
   * AppView (or the header's service) without credentials, as the reference
   * does; null when there is no AppView to ask.
   */
  forwardToAppView(call: ProxyCall): Promise<Response | null>;
  /** Close the pooled upstream connections (at shutdown, with the other closers). */
  close(): Promise<void>;
}
