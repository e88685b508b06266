import { Kind, type TObject, type TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import type { AppContext } from "@/app-context";
import { oauthGate } from "@/auth/permissions";
import { InvalidRequestError, PayloadTooLargeError } from "@/errors";
import type { XrpcMethod, XrpcOutput } from "@/xrpc/method";
import { readBodyLimited } from "@/util/read-body";
import { json } from "./respond";

/** How the request arrived: the client IP and, on a socket server, the WebSocket upgrade. */
export interface Arrival {
  readonly ip: string;
  readonly upgrade: (data: unknown) => boolean;
}

/** Run one XRPC method for a request whose path named it. */
export async function dispatch(ctx: AppContext, nsid: string, method: XrpcMethod, request: Request, arrival: Arrival): Promise<Response> {
  const expected = method.type === "procedure" ? "POST" : "GET";
  // HEAD is GET without a body; Bun strips the body for us.
  const verb = request.method === "HEAD" ? "GET" : request.method;
  if (verb !== expected) {
    throw new InvalidRequestError(`Incorrect HTTP method (${request.method}) for ${nsid}: expected ${expected}`);
  }
  // Credentials first: a caller who may not call the method does not get its body read.
  const auth = await ctx.auth.verify(method.auth ?? "none", request, { accountStatus: method.accountStatus, nsid });
  // An OAuth token: refused here when the method takes none; its scope check (if any) runs once the input is read.
  const oauthCheck = oauthGate(method, auth);
  const params = method.params ? decodeParams(method.params, new URL(request.url).searchParams) : {};
  const input = method.input ? await readJsonInput(request, method.input, ctx.config.service.maxJsonBodyBytes) : undefined;
  const upgrade = method.type === "subscription" ? arrival.upgrade : () => false;
  const call = { ctx, params, input, auth, request, ip: arrival.ip, upgrade };
  if (oauthCheck) await oauthCheck(call);
  return toResponse(await method.handler(call));
}

function toResponse(output: XrpcOutput): Response {
  if (output instanceof Response) return output;
  if (output === undefined) return new Response(null, { status: 200 });
  return json(output);
}

/** Query strings carry strings; convert them to the schema's types, then check. */
function decodeParams(schema: TObject, search: URLSearchParams): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema.properties)) {
    let values = search.getAll(name);
    // Clients encode an unset optional as `name=` (e.g. @atproto/xrpc-server's subscriptions): absent, unless it is a string.
    if ((prop as TSchema)[Kind] !== "String") values = values.filter((v) => v !== "");
    if (values.length === 0) continue;
    raw[name] = (prop as TSchema)[Kind] === "Array" ? values : values[0];
  }
  const params = Value.Default(schema, Value.Convert(schema, raw));
  const error = firstError(schema, params);
  if (error) {
    const name = error.path.slice(1).split("/")[0] || "params";
    throw new InvalidRequestError(`Invalid param ${name}: ${error.message}`);
  }
  return params as Record<string, unknown>;
}

async function readJsonInput(request: Request, schema: TSchema, limit: number): Promise<unknown> {
  const type = request.headers.get("content-type");
  if (!type) throw new InvalidRequestError("Request encoding (Content-Type) required but not provided");
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new InvalidRequestError(`Wrong request encoding (Content-Type): ${type}; expected application/json`);
  }
  const text = await readLimited(request, limit);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidRequestError("Request body is not valid JSON");
  }
  const error = firstError(schema, body);
  if (error) {
    const where = error.path ? `Input${error.path.replaceAll("/", ".")}` : "Input";
    throw new InvalidRequestError(`${where}: ${error.message}`);
  }
  return body;
}

/** Each method's schemas compiled once: a compiled check of a valid value is a few comparisons, not a walk with error paths. */
const checks = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** The first way `value` breaks `schema`, or undefined; the errors are only gathered for a value that fails. */
function firstError(schema: TSchema, value: unknown) {
  let check = checks.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    checks.set(schema, check);
  }
  return check.Check(value) ? undefined : check.Errors(value).First();
}

/** Read a body as text, refusing (413) as soon as it passes `limit` bytes. */
async function readLimited(request: Request, limit: number): Promise<string> {
  const body = await readBodyLimited(request, limit, () => new PayloadTooLargeError(`Request body exceeds ${limit} bytes`));
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
}
