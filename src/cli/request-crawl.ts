import { isValidHandle } from "@atproto/syntax";
import type { ParseArgsConfig } from "node:util";
import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import { printJson, table } from "./admin-output";
import { UsageError } from "./usage-error";

export const REQUEST_CRAWL_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  hostname: { type: "string" },
  json: { type: "boolean" },
};

export const REQUEST_CRAWL_HELP = `Asks each relay (a URL, or a bare host for https://HOST) to crawl this server.

Options:
  --hostname NAME         the hostname relays are told to crawl (default: the config's
                          service.hostname, PDS_HOSTNAME)
  --json                  one JSON document on stdout instead of a table
  --config FILE           the Aurora config: hostname and relays (crawlers, PDS_CRAWLERS)

Without RELAY arguments the config's crawlers (PDS_CRAWLERS) are asked.
Exits 1 when any relay refused or could not be reached.
`;

const RELAY_TIMEOUT_MS = 15_000;

/** What one relay answered. */
interface CrawlResult {
  relay: string;
  ok: boolean;
  status?: number;
  error?: string;
  message?: string;
}

/** `aurora request-crawl [RELAY...]`: com.atproto.sync.requestCrawl with our hostname on each relay (default PDS_CRAWLERS). */
export async function requestCrawl(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const { config: user } = await loadUserConfig(flags.config as string | undefined);
  const config = resolveConfig(user);
  const hostname = (flags.hostname as string | undefined) ?? config.service.hostname;
  if (!isValidHandle(hostname) && hostname !== "localhost") throw new UsageError(`--hostname "${hostname}" is not a hostname`);
  const relays = (args.length > 0 ? args : config.crawlers).map(relayUrl);
  if (relays.length === 0) throw new UsageError("no relays: name them (aurora request-crawl https://bsky.network) or set PDS_CRAWLERS");
  const results = await Promise.all(relays.map((relay) => ask(relay, hostname)));
  if (flags.json) printJson({ hostname, results });
  else {
    process.stdout.write(
      table(
        ["RELAY", "RESULT"],
        results.map((r) => [r.relay, r.ok ? "ok" : [r.error, r.message].filter(Boolean).join(": ")]),
      ),
    );
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

function relayUrl(relay: string): string {
  const url = /^https?:\/\//.test(relay) ? relay : `https://${relay}`;
  try {
    return new URL(url).origin;
  } catch {
    throw new UsageError(`"${relay}" is not a relay URL or hostname`);
  }
}

async function ask(relay: string, hostname: string): Promise<CrawlResult> {
  let res: Response;
  try {
    res = await fetch(`${relay}/xrpc/com.atproto.sync.requestCrawl`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname }),
      redirect: "manual",
      signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
    });
  } catch (err) {
    return { relay, ok: false, error: "Unreachable", message: `cannot reach ${relay}: ${(err as Error).message}` };
  }
  if (res.ok) {
    await res.body?.cancel();
    return { relay, ok: true, status: res.status };
  }
  const text = await res.text().catch(() => "");
  let body: { error?: unknown; message?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // A proxy's HTML error page: the status says enough.
  }
  return {
    relay,
    ok: false,
    status: res.status,
    error: typeof body.error === "string" ? body.error : `HTTP ${res.status}`,
    ...(typeof body.message === "string" ? { message: body.message } : {}),
  };
}
