import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { loadUserConfig } from "@/config/load";
import { type ResolvedConfig, resolveConfig } from "@/config/resolve";
import { UsageError } from "./usage-error";

/** A failed admin command (server refused, unreachable, bad answer): its message on stderr, exit code 1. */
export class AdminError extends Error {}

/** The flags every command talking to a running server shares. */
export const ADMIN_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  url: { type: "string" },
  "password-file": { type: "string" },
  json: { type: "boolean" },
};

/** The --help lines for ADMIN_OPTIONS. */
export const ADMIN_HELP = `Server options:
  --url URL               the running server (default: the config's service.publicUrl,
                          PDS_PUBLIC_URL, or https://PDS_HOSTNAME)
  --password-file FILE    read the admin password from FILE (default: PDS_ADMIN_PASSWORD,
                          the config's secrets.adminPassword, or dev mode's secrets.json)
  --json                  one JSON document on stdout instead of a table
  --config FILE           the Aurora config to read the URL and password from
`;

/** Where a command's server is and how it authenticates, as the flags and config give them. */
export interface AdminTarget {
  readonly config: ResolvedConfig;
  readonly client: AdminClient;
}

/** Load the config and build the client: `--url` over the config's public URL, the admin password from a file, the environment or the config. */
export async function adminTarget(flags: Record<string, unknown>): Promise<AdminTarget> {
  const { config: user } = await loadUserConfig(flags.config as string | undefined);
  const config = resolveConfig(user);
  const flagUrl = flags.url as string | undefined;
  const url = flagUrl ?? config.service.publicUrl;
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url expects an http(s) URL, got "${url}"`);
  const source = flagUrl ? "--url" : "the config's service.publicUrl (PDS_PUBLIC_URL / PDS_HOSTNAME)";
  return { config, client: new AdminClient(url.replace(/\/+$/, ""), source, adminPassword(flags, config)) };
}

function adminPassword(flags: Record<string, unknown>, config: ResolvedConfig): string | undefined {
  const file = flags["password-file"] as string | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new AdminError(`cannot read --password-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const password = text.replace(/\r?\n$/, "");
    if (!password) throw new AdminError(`--password-file ${file} is empty`);
    return password;
  }
  if (process.env.PDS_ADMIN_PASSWORD) return process.env.PDS_ADMIN_PASSWORD;
  if (config.secrets.adminPassword) return config.secrets.adminPassword;
  // Dev mode keeps generated secrets beside the data; read them, never generate one here.
  if (config.service.devMode) {
    try {
      const stored = JSON.parse(readFileSync(join(config.dataDir, "secrets.json"), "utf8")) as { adminPassword?: unknown };
      if (typeof stored.adminPassword === "string") return stored.adminPassword;
    } catch {
      // No stored secrets: the same "no admin password" error as outside dev mode, once a call needs it.
    }
  }
  return undefined;
}

/** The `{ error, message }` body of a failed XRPC call, with its HTTP status. */
export class XrpcCallError extends AdminError {
  constructor(
    readonly nsid: string,
    readonly status: number,
    readonly error: string,
    readonly detail: string,
    hint?: string,
  ) {
    super(`${nsid} failed: ${error}${detail ? `: ${detail}` : ""} (HTTP ${status})${hint ? `\n${hint}` : ""}`);
  }
}

type Params = Record<string, string | number | string[] | undefined>;

const CALL_TIMEOUT_MS = 30_000;

/** XRPC calls to one server; `admin: true` sends HTTP Basic `admin:<password>`. */
export class AdminClient {
  constructor(
    readonly url: string,
    private readonly source: string,
    private readonly password: string | undefined,
  ) {}

  /** A GET method's JSON output. */
  async query<T>(nsid: string, params: Params = {}, opts: { admin?: boolean } = {}): Promise<T> {
    return this.json<T>(nsid, await this.send(nsid, "GET", params, undefined, opts.admin ?? false, true));
  }

  /** A POST method's JSON output (undefined for an empty body). */
  async procedure<T>(nsid: string, input: unknown, opts: { admin?: boolean } = {}): Promise<T> {
    return this.json<T>(nsid, await this.send(nsid, "POST", {}, input, opts.admin ?? false, true));
  }

  /** A GET method's successful response, body unread (streamed outputs such as CARs; no overall time limit). */
  async stream(nsid: string, params: Params, opts: { admin?: boolean } = {}): Promise<Response> {
    const res = await this.send(nsid, "GET", params, undefined, opts.admin ?? false, false);
    if (!res.ok) await this.json(nsid, res);
    return res;
  }

  private async send(nsid: string, method: "GET" | "POST", params: Params, input: unknown, admin: boolean, bounded: boolean): Promise<Response> {
    const target = new URL(`${this.url}/xrpc/${nsid}`);
    for (const [name, value] of Object.entries(params)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) target.searchParams.append(name, String(v));
    }
    const headers: Record<string, string> = {};
    if (input !== undefined) headers["content-type"] = "application/json";
    if (admin) {
      if (this.password === undefined) {
        throw new AdminError("no admin password: set PDS_ADMIN_PASSWORD, secrets.adminPassword in the config, or pass --password-file FILE");
      }
      headers.authorization = `Basic ${Buffer.from(`admin:${this.password}`).toString("base64")}`;
    }
    try {
      return await fetch(target, {
        method,
        headers,
        body: input === undefined ? undefined : JSON.stringify(input),
        redirect: "manual",
        signal: bounded ? AbortSignal.timeout(CALL_TIMEOUT_MS) : undefined,
      });
    } catch (err) {
      const reason = (err as { code?: string }).code ?? (err as Error).name ?? "error";
      throw new AdminError(
        `cannot reach the server at ${this.url} (${reason}: ${(err as Error).message}); the URL came from ${this.source}. ` +
          "Pass --url URL (e.g. --url http://127.0.0.1:2583 on the server itself) or set service.publicUrl / PDS_PUBLIC_URL",
      );
    }
  }

  private async json<T>(nsid: string, res: Response): Promise<T> {
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
      if (res.ok) throw new AdminError(`${nsid}: the server at ${this.url} answered HTTP ${res.status} with a body that is not JSON`);
    }
    if (res.ok) return body as T;
    const { error, message } = (body ?? {}) as { error?: unknown; message?: unknown };
    const name = typeof error === "string" ? error : `HTTP ${res.status}`;
    const detail = typeof message === "string" ? message : typeof error === "string" ? "" : text.slice(0, 200).trim();
    throw new XrpcCallError(nsid, res.status, name, detail, hintFor(res.status, nsid, this.url));
  }
}

function hintFor(status: number, nsid: string, url: string): string | undefined {
  if (status === 401) return "check the admin password (PDS_ADMIN_PASSWORD, the config's secrets.adminPassword, or --password-file)";
  if (status === 501) return `the server at ${url} does not implement ${nsid} (an older version?)`;
  if (status >= 300 && status < 400) return `the server at ${url} redirected; pass the final URL with --url`;
  return undefined;
}
