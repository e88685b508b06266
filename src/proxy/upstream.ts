import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import { PayloadTooLargeError, XrpcError } from "@/errors";
import { type LookupAll, SafeFetchError, checkDestination, guardedLookup } from "@/identity/safe-fetch";

export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  /** The client's body, streamed, or one we built; null for none. */
  readonly body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** Request bodies past this are refused with 413 (the upstream sees its request aborted). */
  readonly bodyLimit: number;
  /** Loopback and private destinations allowed: the operator configured this one. */
  readonly allowPrivate: boolean;
  /** Connect and response headers. */
  readonly headersTimeoutMs: number;
  /** The whole exchange, the response body included. */
  readonly timeoutMs: number;
  /** Name resolution (tests). */
  readonly lookup?: LookupAll;
  /** The connection pool for this destination's policy (`upstreamAgents().for`). */
  readonly agent: http.Agent;
}

export interface UpstreamAgents {
  /** The pool for a URL's scheme and address policy. */
  for(url: URL, allowPrivate: boolean): http.Agent;
  /** Close every pooled connection. */
  destroy(): void;
}

/**
 * Keep-alive connection pools, one per scheme and address policy. A pooled
 * socket was checked when it connected (the lookup below runs for every new
 * connection), and a socket opened under the permissive policy (a configured
 * service) is never handed to a call under the strict one: the policies do
 * not share pools. Reuse saves a TCP and TLS handshake per proxied call.
 */
export function upstreamAgents(): UpstreamAgents {
  // Idle sockets close after 4 s, before a Node upstream's default 5 s keep-alive would close them under us.
  const options = { keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 4000, scheduling: "lifo" as const };
  const pools = new Map<string, http.Agent>();
  return {
    for(url, allowPrivate) {
      const key = `${url.protocol}${allowPrivate}`;
      let agent = pools.get(key);
      if (!agent) {
        agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
        pools.set(key, agent);
      }
      return agent;
    },
    destroy() {
      for (const agent of pools.values()) agent.destroy();
      pools.clear();
    },
  };
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Paused; ends early with an error when the whole-exchange deadline passes. */
  readonly body: IncomingMessage;
}

export const upstreamFailure = (message: string, cause?: unknown) =>
  new XrpcError(502, "UpstreamFailure", message, cause === undefined ? undefined : { cause });
const upstreamTimeout = () => new XrpcError(504, "UpstreamTimeout", "Upstream service timed out");

/**
 * One HTTP exchange with an upstream service, resolved at its response
 * headers. Every failure before them is an XrpcError the client can read:
 * 502 UpstreamFailure (refused address, connection refused or reset, bad
 * response), 504 UpstreamTimeout, 413 for a request body past its limit.
 * The destination is checked like safeFetch (scheme, address literal, and
 * every address the name resolves to, inside the connect's own lookup).
 */
export function sendUpstream(req: UpstreamRequest): Promise<UpstreamResponse> {
  return attempt(req, req.body === null);
}

/** `retryStale`: a call without a body is sent once more when the pooled socket it went out on had been closed. */
function attempt(req: UpstreamRequest, retryStale: boolean): Promise<UpstreamResponse> {
  let hostname: string;
  try {
    hostname = checkDestination(req.url, req.allowPrivate);
  } catch (err) {
    return Promise.reject(upstreamFailure("Upstream service address is not allowed", err));
  }
  return new Promise((resolve, reject) => {
    let failure: XrpcError | null = null;
    let answered = false;
    const fail = (err: XrpcError) => {
      failure ??= err;
      clearTimeout(headersTimer);
      outgoing.destroy();
      if (!answered) reject(failure);
    };
    const lookup = guardedLookup(req.lookup, req.allowPrivate, (err: SafeFetchError) => {
      failure ??= upstreamFailure("Upstream service address is not allowed", err);
    });
    const outgoing = (req.url.protocol === "https:" ? https : http).request(
      {
        protocol: req.url.protocol,
        hostname,
        port: req.url.port || undefined,
        path: `${req.url.pathname}${req.url.search}`,
        method: req.method,
        headers: { "user-agent": "aurora-pds", ...req.headers },
        lookup: lookup as never,
        agent: req.agent,
      },
      (res) => {
        clearTimeout(headersTimer);
        answered = true;
        res.pause();
        res.once("end", () => clearTimeout(totalTimer)).once("close", () => clearTimeout(totalTimer));
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res });
      },
    );
    const headersTimer = setTimeout(() => fail(upstreamTimeout()), req.headersTimeoutMs);
    // Past the headers this cuts the body: the relay sees the stream end without its end.
    const totalTimer = setTimeout(() => fail(upstreamTimeout()), req.timeoutMs);
    outgoing.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(totalTimer);
      // The upstream closed an idle pooled connection as we reused it: nothing reached it, try a fresh one.
      if (retryStale && !answered && failure === null && outgoing.reusedSocket && err.code === "ECONNRESET") {
        clearTimeout(headersTimer);
        answered = true;
        return resolve(attempt(req, false));
      }
      fail(failure ?? upstreamFailure("Upstream service unreachable", err));
    });
    if (req.body instanceof Uint8Array) outgoing.end(req.body);
    else if (req.body === null) outgoing.end();
    else pipeLimited(req.body, outgoing, req.bodyLimit).catch((err) => fail(err instanceof XrpcError ? err : upstreamFailure("Request body could not be read", err)));
  });
}

/** The chunks of a client's body, refused (413 PayloadTooLarge) as soon as they pass `limit` bytes. */
async function* limited(body: ReadableStream<Uint8Array> | null, limit: number): AsyncGenerator<Uint8Array> {
  if (!body) return;
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw new PayloadTooLargeError(`Request body exceeds ${limit} bytes`);
    yield chunk;
  }
}

/** A small client body read whole (a body we must look into before sending it on). */
export async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of limited(body, limit)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Stream the client's body upstream with backpressure. */
async function pipeLimited(body: ReadableStream<Uint8Array>, outgoing: http.ClientRequest, limit: number): Promise<void> {
  for await (const chunk of limited(body, limit)) {
    if (!outgoing.write(chunk)) await new Promise<void>((resolve) => outgoing.once("drain", resolve).once("close", resolve));
    if (outgoing.destroyed) return;
  }
  outgoing.end();
}

/**
 * The upstream body as a web stream for our Response, pulled at the client's
 * pace (the upstream socket is paused while the client is behind, so a large
 * response never piles up here). Cut with an error past `maxBytes` or when
 * the upstream stops before its end; `done` hears how it finished.
 */
export function relayBody(
  res: IncomingMessage,
  opts: { maxBytes: number; prefix?: readonly Uint8Array[]; done: (outcome: "complete" | "failed" | "cancelled") => void },
): ReadableStream<Uint8Array> {
  let finished = false;
  const finish = (outcome: "complete" | "failed" | "cancelled") => {
    if (finished) return false;
    finished = true;
    opts.done(outcome);
    return true;
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let size = 0;
        for (const chunk of opts.prefix ?? []) {
          size += chunk.byteLength;
          controller.enqueue(chunk);
        }
        res.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > opts.maxBytes) {
            if (finish("failed")) controller.error(upstreamFailure(`Upstream response exceeds ${opts.maxBytes} bytes`));
            res.destroy();
            return;
          }
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) res.pause();
        });
        const broken = () => finish("failed") && controller.error(upstreamFailure("Upstream response ended early"));
        // A body `collect` left behind may already have ended or broken off.
        if (res.readableEnded) return void (finish("complete") && controller.close());
        if (res.destroyed) return void broken();
        res.once("end", () => finish("complete") && controller.close());
        res.once("close", broken);
        res.on("error", () => {});
      },
      pull() {
        res.resume();
      },
      cancel() {
        finish("cancelled");
        res.destroy();
      },
    },
    new CountQueuingStrategy({ highWaterMark: 4 }),
  );
}

/** What `collect` read: the whole body (`complete`), or its first chunks (past the limit, or broken off). */
export interface Collected {
  readonly chunks: Buffer[];
  readonly size: number;
  readonly complete: boolean;
}

/**
 * Read a body up to `maxBytes`. Past the limit the stream stays open and
 * paused where it was, so `relayBody(res, { prefix: chunks })` can still
 * pass the whole of it on.
 */
export function collect(res: IncomingMessage, maxBytes: number): Promise<Collected> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (complete: boolean) => {
      res.off("data", onData).off("end", onEnd).off("close", onClose);
      res.pause();
      resolve({ chunks, size, complete });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > maxBytes) settle(false);
    };
    const onEnd = () => settle(true);
    const onClose = () => settle(false);
    res.on("data", onData).once("end", onEnd).once("close", onClose).on("error", () => {});
    res.resume();
  });
}

/** A whole small body (an upstream error), or null when it is larger or breaks off. */
export async function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const got = await collect(res, maxBytes);
  if (got.complete) return Buffer.concat(got.chunks, got.size);
  res.destroy();
  return null;
}
