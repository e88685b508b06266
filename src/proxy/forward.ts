import type { IncomingHttpHeaders } from "node:http";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { mintServiceJwt } from "@/auth/service-jwt";
import { json } from "@/http/respond";
import { PayloadTooLargeError, XrpcError } from "@/errors";
import { READ_AFTER_WRITE_METHODS } from "./read-after-write";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers";
import type { Target } from "./target";
import { type UpstreamResponse, collect, readBody, relayBody, sendUpstream, upstreamFailure } from "./upstream";
import type { ProxyRuntime } from "./runtime";

/** One call to send upstream, its target and token decided. */
export interface Exchange {
  readonly request: Request;
  readonly nsid: string;
  readonly target: Target;
  /** Service auth to mint: iss (the caller), aud and lxm; null sends the call without credentials. */
  readonly auth: { iss: string; aud: string; lxm: string } | null;
  /** A body we built (registerPush read it); else the client's, streamed. */
  readonly body?: Uint8Array;
}

const NO_BODY_STATUS = new Set([101, 204, 205, 304]);
/** Upstream error bodies are read to re-render their `{error, message}`; anything longer is not an XRPC error. */
const ERROR_BODY_MAX = 64 * 1024;
/** Read-after-write reads a view whole to merge into it; a bigger one passes through untouched. */
const MERGE_BODY_MAX = 10 * 1024 * 1024;

const isJson = (type: string | undefined) => type !== undefined && /^application\/(?:[\w.-]+\+)?json\s*(;|$)/i.test(type);
const headerOf = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Send one call upstream and turn the answer into ours: a success streamed
 * through at the client's pace; an upstream XRPC error re-rendered as
 * `{error, message}` with its status (500 becomes 502 UpstreamFailure, as in
 * the reference); a read-after-write view read whole and merged.
 */
export async function exchange(rt: ProxyRuntime, ex: Exchange): Promise<Response> {
  const { request, target } = ex;
  const started = performance.now();
  const service = rt.label(target);
  const hasBody = request.method === "POST";
  const merge = READ_AFTER_WRITE_METHODS.has(ex.nsid) && ex.auth !== null;
  const headers = upstreamRequestHeaders(request, { body: hasBody && ex.body === undefined, identity: merge });
  if (ex.body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(ex.body.byteLength);
  }
  if (ex.auth) {
    const key = await rt.signingKey(ex.auth.iss);
    headers.authorization = `Bearer ${await mintServiceJwt(key, ex.auth)}`;
  }
  const limit = isJson(headers["content-type"]) ? rt.config.service.maxJsonBodyBytes : rt.config.service.blobUploadLimit;
  if (Number(headers["content-length"] ?? 0) > limit) throw new PayloadTooLargeError(`Request body exceeds ${limit} bytes`);

  const url = new URL(`/xrpc/${ex.nsid}${new URL(request.url).search}`, target.url);
  const allowPrivate = target.configured || rt.config.identity.allowPrivateAddresses;
  let res: UpstreamResponse;
  try {
    res = await sendUpstream({
      url,
      method: request.method,
      headers,
      body: ex.body ?? (hasBody ? request.body : null),
      bodyLimit: limit,
      allowPrivate,
      headersTimeoutMs: rt.config.proxy.headersTimeoutMs,
      timeoutMs: rt.config.proxy.timeoutMs,
      lookup: rt.lookup,
      agent: rt.agents.for(url, allowPrivate),
    });
  } catch (err) {
    const status = err instanceof XrpcError ? err.status : 502;
    rt.record(service, status, started);
    if (status >= 500) rt.log.warn("proxy upstream failed", { nsid: ex.nsid, service, host: url.host, err });
    throw err;
  }

  const rev = headerOf(res.headers, "atproto-repo-rev");
  if (res.status >= 400) {
    const failed = await upstreamError(res);
    // getPostThread of the viewer's own post the upstream has not seen yet: answered from local records.
    const merged = merge && rev && failed.error === "NotFound" ? await tryMerge(rt, ex, rev, failed.payload) : null;
    rt.record(service, merged ? 200 : failed.status, started);
    if (merged) return mergedResponse(merged, clientResponseHeaders(res.headers, false));
    const answer = json({ error: failed.error, message: failed.message }, failed.status);
    clientResponseHeaders(res.headers, false).forEach((value, name) => answer.headers.set(name, value));
    return answer;
  }
  const declared = Number(headerOf(res.headers, "content-length") ?? 0);
  if (declared > rt.config.proxy.maxResponseBytes) {
    res.body.destroy();
    rt.record(service, 502, started);
    throw upstreamFailure(`Upstream response exceeds ${rt.config.proxy.maxResponseBytes} bytes`);
  }
  rt.count(service, res.status);
  const done = () => rt.observe(service, started);
  if (merge && res.status === 200 && rev && isJson(headerOf(res.headers, "content-type")) && !headerOf(res.headers, "content-encoding")) {
    return readAndMerge(rt, ex, res, rev, done);
  }
  return relayed(rt, res, done);
}

function relayed(rt: ProxyRuntime, res: UpstreamResponse, done: () => void, prefix?: Uint8Array[]): Response {
  const headers = clientResponseHeaders(res.headers, true);
  if (NO_BODY_STATUS.has(res.status)) {
    res.body.destroy();
    done();
    return new Response(null, { status: res.status, headers });
  }
  const body = relayBody(res.body, { maxBytes: rt.config.proxy.maxResponseBytes, prefix, done });
  return new Response(body, { status: res.status, headers });
}

/** The view read whole and handed to read-after-write; its merge (when there is one) replaces the body. */
async function readAndMerge(rt: ProxyRuntime, ex: Exchange, res: UpstreamResponse, rev: string, done: () => void): Promise<Response> {
  const got = await collect(res.body, MERGE_BODY_MAX);
  if (!got.complete) return relayed(rt, res, done, got.chunks);
  done();
  const bytes = Buffer.concat(got.chunks, got.size);
  const headers = clientResponseHeaders(res.headers, true);
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString("utf8"));
  } catch {
    return new Response(bytes, { status: res.status, headers });
  }
  const merged = await tryMerge(rt, ex, rev, body);
  return merged ? mergedResponse(merged, headers) : new Response(bytes, { status: res.status, headers });
}

type Merged = { body: unknown; lagMs: number | undefined };

async function tryMerge(rt: ProxyRuntime, ex: Exchange, rev: string, body: unknown): Promise<Merged | null> {
  const viewer = ex.auth!.iss;
  try {
    return await rt.readAfterWrite(ex.nsid, viewer, rev, body, new URL(ex.request.url).searchParams);
  } catch (err) {
    // The upstream's answer is still good: a failed merge only costs the user their newest records.
    rt.log.warn("read-after-write merge failed", { nsid: ex.nsid, did: viewer, err });
    return null;
  }
}

/** A merged view: 200 JSON, the upstream's other headers kept, and how far behind the upstream was. */
function mergedResponse(merged: Merged, upstream: Headers): Response {
  const answer = json(merged.body, 200);
  upstream.forEach((value, name) => name === "content-type" || name === "content-length" || answer.headers.set(name, value));
  if (merged.lagMs !== undefined) answer.headers.set("atproto-upstream-lag", String(merged.lagMs));
  return answer;
}

/** The reference's names for statuses an upstream error body does not name. */
const ERROR_NAMES: Record<number, string> = {
  400: "InvalidRequest",
  401: "AuthenticationRequired",
  403: "Forbidden",
  404: "XRPCNotSupported",
  406: "NotAcceptable",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  429: "RateLimitExceeded",
  501: "MethodNotImplemented",
  502: "UpstreamFailure",
  503: "NotEnoughResources",
  504: "UpstreamTimeout",
};

/** An upstream error as the reference passes it on: its status (500 → 502) and its `{error, message}`. */
async function upstreamError(res: UpstreamResponse): Promise<{ status: number; error: string; message: string; payload: unknown }> {
  const status = res.status === 500 ? 502 : res.status;
  let payload: { error?: unknown; message?: unknown } | null = null;
  if (isJson(headerOf(res.headers, "content-type"))) {
    const raw = await readBody(res.body, ERROR_BODY_MAX);
    const text = raw && decode(raw, headerOf(res.headers, "content-encoding"));
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
  } else {
    res.body.destroy();
  }
  return {
    status,
    error: typeof payload?.error === "string" ? payload.error : (ERROR_NAMES[status] ?? "InternalServerError"),
    message: typeof payload?.message === "string" ? payload.message : `Upstream service answered ${res.status}`,
    payload,
  };
}

/** A small body in one of the encodings we may have accepted on the client's behalf; null for any other. */
function decode(bytes: Buffer, encoding: string | undefined): string | null {
  try {
    switch ((encoding ?? "identity").trim().toLowerCase()) {
      case "identity":
        return bytes.toString("utf8");
      case "gzip":
      case "x-gzip":
        return gunzipSync(bytes, { maxOutputLength: ERROR_BODY_MAX }).toString("utf8");
      case "deflate":
        return inflateSync(bytes, { maxOutputLength: ERROR_BODY_MAX }).toString("utf8");
      case "br":
        return brotliDecompressSync(bytes, { maxOutputLength: ERROR_BODY_MAX }).toString("utf8");
      default:
        return null;
    }
  } catch {
    return null;
  }
}
