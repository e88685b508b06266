import type net from "node:net";
import type postgresjs from "postgres";
import type { DbErrorReason } from "@/plugin-kit";
import { guardedSocket } from "./socket";

/**
 * Seconds before a connection retries after a failed connect. postgres.js's
 * default grows to 20 s after a few failures, shared by the whole pool: a
 * query during an outage would then wait that long instead of failing fast,
 * and recovery would lag the database by as much. Capped at one second here.
 */
export function reconnectBackoff(attempt: number): number {
  return Math.min(0.05 * 2 ** attempt, 1);
}

/** Where to connect: the URL postgres.js reads, and the Unix socket's path when the URL names one. */
export interface ConnectionTarget {
  url: string;
  path?: string;
}

/**
 * libpq's Unix-socket forms of a connection URL, which postgres.js does not
 * read: a `host` query parameter that is a directory
 * (`postgresql://aurora@localhost/aurora?host=/run/postgresql`) or a
 * percent-encoded directory as the host (`postgresql://%2Frun%2Fpostgresql/aurora`).
 * The socket is `<dir>/.s.PGSQL.<port>` (port 5432 unless the URL gives one);
 * the `host` parameter is taken out of the URL, or postgres.js would send it
 * to the server as a setting. Any other URL is returned as it is.
 */
export function connectionTarget(url: string): ConnectionTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  const param = parsed.searchParams.get("host");
  const hostDir = decodeURIComponent(parsed.hostname);
  const dir = param?.startsWith("/") ? param : hostDir.startsWith("/") ? hostDir : undefined;
  if (dir === undefined) return { url };
  parsed.searchParams.delete("host");
  // The host postgres.js parses is then only a name in its messages; the socket is what it connects to.
  if (hostDir.startsWith("/") || parsed.hostname === "") parsed.hostname = "localhost";
  return { url: parsed.toString(), path: `${dir.replace(/\/+$/, "")}/.s.PGSQL.${parsed.port || "5432"}` };
}

/** Options both the query pool and the LISTEN connection use. */
export function commonOptions(connectTimeout: number, onSocket?: (socket: net.Socket) => void, path?: string): postgresjs.Options<{}> {
  const open = guardedSocket();
  return {
    ...(path === undefined ? {} : { path }),
    connect_timeout: connectTimeout,
    backoff: reconnectBackoff,
    // Not in postgres.js's type definitions, but a documented option: a function returning the socket.
    socket: onSocket
      ? (target: Parameters<typeof open>[0]) => {
          const socket = open(target);
          onSocket(socket);
          return socket;
        }
      : open,
    onnotice: () => {},
    // int8 (seq, sizes, count(*)) as JS numbers, like SQLite: every value we store fits in 2^53.
    types: { int8: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) } },
  } as postgresjs.Options<{}>;
}

/** PostgreSQL SQLSTATE classes and codes meaning "the server cannot serve right now". */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "53400", "58000", "58030"]);
/** postgres.js and socket error codes for a connection that could not be made or was lost. */
const UNAVAILABLE_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

export function classify(err: unknown): DbErrorReason {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return "query";
  if (code === "23505") return "unique";
  // Class 22, data exception: a value the column cannot hold (a NUL byte, a malformed number, one out of range).
  if (code.startsWith("22")) return "invalid";
  // lock_not_available (lock_timeout) and query_canceled by statement_timeout: try again later.
  if (code === "55P03" || code === "57014") return "busy";
  if (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_CODES.has(code)) return "unavailable";
  return "query";
}

/**
 * Errors postgres.js hands only to a statement it never sent. A FATAL error
 * (an administrator's pg_terminate_backend 57P01, a shutdown 57P02, a server
 * still starting 57P03) ends the session without a ReadyForQuery, and
 * postgres.js delivers a server error to its query only on ReadyForQuery: a
 * statement in flight when its session is killed fails with
 * CONNECTION_CLOSED instead. In 3.4.9 the dead session's error is kept,
 * though, and replayed on the first statement of the reconnected session,
 * before that statement is sent; a FATAL during startup fails it likewise.
 */
const NEVER_SENT = new Set(["57P01", "57P02", "57P03"]);
/** The connection died under a statement that may have run: safe to send again only if it changes nothing. */
const LOST = new Set(["CONNECTION_CLOSED", "ECONNRESET", "EPIPE"]);

/**
 * When a statement that failed may be sent again: as long as it was never
 * sent at all (each dead connection replays its error once, and a retry may
 * meet another one, so up to `connections` times, the pool's size), and a
 * read (outside a transaction, where its effects are no one else's
 * business) once when its connection was lost. Never a write whose fate is
 * unknown.
 */
export function retryPolicy(readOnly: boolean, connections: number): (err: unknown) => boolean {
  let neverSent = 0;
  let lost = 0;
  return (err) => {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "string") return false;
    if (NEVER_SENT.has(code)) return ++neverSent <= connections;
    return readOnly && LOST.has(code) && ++lost <= 1;
  };
}

/** `run` until it succeeds or its failure does not pass `retry`. */
export async function withRetries<T>(run: () => Promise<T>, retry: (err: unknown) => boolean): Promise<T> {
  for (;;) {
    try {
      return await run();
    } catch (err) {
      if (!retry(err)) throw err;
    }
  }
}
