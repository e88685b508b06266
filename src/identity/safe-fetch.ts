import { lookup as dnsLookup } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { isPublicAddress } from "./ip";

/** Resolves a hostname to every address it has (the shape of `dns.lookup` with `all: true`). */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface SafeFetchOptions {
  /**
   * Allow loopback and private destinations and plain `http:`. Only for
   * destinations the operator configured (the PLC directory), or with
   * identity.allowPrivateAddresses (tests, private networks).
   */
  allowPrivate: boolean;
  /** @default "GET" */
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Whole request, redirects included. @default 5000 */
  timeoutMs?: number;
  /** Largest response body. @default 262144 */
  maxBytes?: number;
  /** Redirects followed (GET only), each one checked like the first request. @default 3 */
  maxRedirects?: number;
  /** Name resolution; tests point names at loopback servers. @default dns.lookup */
  lookup?: LookupAll;
  /** Extra trusted CA certificates (PEM); tests use a local TLS server. */
  ca?: string;
}

export interface SafeResponse {
  readonly status: number;
  /** The final URL, after redirects. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  text(): string;
  json(): unknown;
}

export type SafeFetchFailure = "blocked" | "timeout" | "too-large" | "network" | "protocol";

export class SafeFetchError extends Error {
  constructor(
    readonly reason: SafeFetchFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "SafeFetchError";
  }
}

const defaultLookup: LookupAll = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/**
 * Fetch a URL that a user (not the operator) chose: a did:web document, a
 * handle's `/.well-known/atproto-did`. Unless `allowPrivate`, only `https:` is
 * allowed and every address the name resolves to must be public; the check
 * runs inside the connection's own name lookup, so a DNS answer cannot change
 * between the check and the connect. Bounded in time, size and redirects.
 */
export async function safeFetch(url: string, opts: SafeFetchOptions): Promise<SafeResponse> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await requestOnce(current, opts, deadline);
    const location = res.headers.location;
    const redirect = [301, 302, 303, 307, 308].includes(res.status) && typeof location === "string";
    if (!redirect || (opts.method ?? "GET") !== "GET") return res;
    if (hop >= (opts.maxRedirects ?? 3)) throw new SafeFetchError("protocol", `too many redirects fetching ${url}`);
    current = new URL(location, current);
  }
}

/**
 * The scheme and address-literal half of the policy, before any connection:
 * `https:` only (plain `http:` too with `allowPrivate`), no non-public IP
 * literal. Returns the hostname to dial (IPv6 brackets removed).
 */
export function checkDestination(url: URL, allowPrivate: boolean): string {
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowPrivate)) {
    throw new SafeFetchError("blocked", `refusing ${url.protocol} URL ${url.origin}: https only`);
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(hostname) && !allowPrivate && !isPublicAddress(hostname)) {
    throw new SafeFetchError("blocked", `refusing non-public address ${hostname}`);
  }
  return hostname;
}

/**
 * The name half: a socket `lookup` (node:http's option) that refuses names
 * resolving to any non-public address. It runs for the connect itself, so
 * what is checked is what is dialled; `onBlocked` hears why it refused.
 */
export function guardedLookup(resolveAll: LookupAll | undefined, allowPrivate: boolean, onBlocked: (err: SafeFetchError) => void) {
  const resolve = resolveAll ?? defaultLookup;
  return (host: string, options: { all?: boolean }, cb: (...args: any[]) => void) => {
    resolve(host).then(
      (addresses) => {
        const refused = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
        if (addresses.length === 0 || refused) {
          const err = new SafeFetchError("blocked", `refusing ${host}: resolves to non-public address ${refused?.address ?? "(none)"}`);
          onBlocked(err);
          return cb(err);
        }
        if (options?.all) cb(null, addresses);
        else cb(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: Error) => cb(err),
    );
  };
}

function requestOnce(url: URL, opts: SafeFetchOptions, deadline: number): Promise<SafeResponse> {
  const secure = url.protocol === "https:";
  let hostname: string;
  try {
    hostname = checkDestination(url, opts.allowPrivate);
  } catch (err) {
    return Promise.reject(err);
  }
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new SafeFetchError("timeout", `timed out fetching ${url.origin}`));
  const maxBytes = opts.maxBytes ?? 256 * 1024;

  return new Promise<SafeResponse>((resolve, reject) => {
    let failure: SafeFetchError | null = null;
    const fail = (err: SafeFetchError) => {
      failure ??= err;
      clearTimeout(timer);
      req.destroy();
      reject(failure);
    };
    const lookup = guardedLookup(opts.lookup, opts.allowPrivate, (err) => {
      failure ??= err;
    });
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = (secure ? https : http).request(
      {
        protocol: url.protocol,
        hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: opts.method ?? "GET",
        headers: {
          "user-agent": "aurora-pds",
          ...opts.headers,
          ...(body ? { "content-length": String(body.length) } : {}),
        },
        lookup: lookup as never,
        // No pooled connections: a reused socket would skip the address check above.
        agent: false,
        ...(opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        const declared = Number(res.headers["content-length"] ?? NaN);
        if (declared > maxBytes) return fail(new SafeFetchError("too-large", `response from ${url.origin} exceeds ${maxBytes} bytes`));
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(new SafeFetchError("too-large", `response from ${url.origin} exceeds ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          if (failure) return;
          const bytes = Buffer.concat(chunks, size);
          resolve({
            status: res.statusCode ?? 0,
            url: url.toString(),
            headers: res.headers,
            body: bytes,
            text: () => bytes.toString("utf8"),
            json: () => JSON.parse(bytes.toString("utf8")),
          });
        });
        res.on("error", (err) => fail(new SafeFetchError("network", `reading ${url.origin}: ${err.message}`, { cause: err })));
      },
    );
    const timer = setTimeout(() => fail(new SafeFetchError("timeout", `timed out fetching ${url.origin}`)), remaining);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(failure ?? new SafeFetchError("network", `fetching ${url.origin}: ${err.message}`, { cause: err }));
    });
    req.end(body);
  });
}
