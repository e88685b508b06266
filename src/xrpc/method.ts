import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { AppContext } from "@/context";

/** What a handler receives: decoded and validated params and input. */
export interface XrpcCall<P, I> {
  ctx: AppContext;
  params: P;
  input: I;
  request: Request;
}

/** A JSON object to send as the response body, a ready Response (streams), or nothing (empty 200). */
export type XrpcOutput = object | Response | void;

export interface XrpcMethod {
  readonly type: "query" | "procedure";
  /** Query-string parameters; values are converted to the schema's types. */
  readonly params?: TObject;
  /** JSON request body of a procedure; absent means the procedure takes no body. */
  readonly input?: TSchema;
  // The params and input types are erased in the route table; `query`/`procedure` keep them for the handler.
  readonly handler: (call: XrpcCall<any, any>) => Promise<XrpcOutput> | XrpcOutput;
}

type EmptyParams = TObject<{}>;

/** Define a query (HTTP GET). */
export function query<P extends TObject = EmptyParams>(def: {
  params?: P;
  handler: (call: XrpcCall<Static<P>, undefined>) => Promise<XrpcOutput> | XrpcOutput;
}): XrpcMethod {
  return { type: "query", ...def };
}

/** Define a procedure (HTTP POST). */
export function procedure<P extends TObject = EmptyParams, I extends TSchema = TSchema>(def: {
  params?: P;
  input?: I;
  handler: (call: XrpcCall<Static<P>, Static<I>>) => Promise<XrpcOutput> | XrpcOutput;
}): XrpcMethod {
  return { type: "procedure", ...def };
}
