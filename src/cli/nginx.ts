import { writeFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import { generateNginxSite, validateSiteOptions } from "@/nginx/generate";
import { UsageError } from "./usage-error";

/** Headroom over the blob limit for multipart framing and headers. */
const BODY_HEADROOM = 1024 * 1024;

export const NGINX_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  node: { type: "string", multiple: true },
  "server-name": { type: "string" },
  listen: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  sticky: { type: "boolean" },
  "max-fails": { type: "string" },
  "fail-timeout": { type: "string" },
  "metrics-allow": { type: "string", multiple: true },
  out: { type: "string" },
};

export const NGINX_HELP = `Options:
  --node HOST:PORT        an Aurora node (repeat for each); required
  --server-name NAME      public hostname (default: the config's service.hostname)
  --listen [ADDR:]PORT    where nginx listens (default 443 with TLS, else 80)
  --tls-cert FILE         TLS certificate (with --tls-key); plain HTTP without
  --tls-key FILE          TLS private key
  --sticky                ip_hash (one client IP, one node) instead of least_conn
  --max-fails N           failures before a node is skipped (default 3)
  --fail-timeout SECONDS  how long it is skipped (default 30)
  --metrics-allow CIDR,.. only these client addresses or ranges may reach /metrics
                          (repeatable; default: open, see PDS_METRICS_TOKEN)
  --out FILE              write here instead of stdout
  --config FILE           Aurora config: blob upload limit (client_max_body_size),
                          hostname and handle domains

Example:
  aurora nginx --config prod.ts --node 10.0.0.11:2583 --node 10.0.0.12:2583 \\
    --node 10.0.0.13:2583 --server-name pds.example.com \\
    --tls-cert /etc/nginx/ssl/cert.pem --tls-key /etc/nginx/ssl/key.pem \\
    --out /etc/nginx/sites-enabled/aurora.conf

Include the file from the http {} block of nginx.conf, run \`nginx -t\`, reload.
Every node should run with PDS_PUBLIC_URL=https://<server name>.
`;

/** `aurora nginx`: the site file for the given nodes, from flags and the config. */
export async function nginx(flags: Record<string, unknown>): Promise<number> {
  const { config: user } = await loadUserConfig(flags.config as string | undefined);
  const config = resolveConfig(user);
  const cert = flags["tls-cert"] as string | undefined;
  const key = flags["tls-key"] as string | undefined;
  if (!cert !== !key) throw new UsageError("--tls-cert and --tls-key go together");
  const options = {
    nodes: (flags.node as string[] | undefined) ?? [],
    serverName: (flags["server-name"] as string | undefined) ?? config.service.hostname,
    listen: flags.listen as string | undefined,
    tls: cert && key ? { cert, key } : undefined,
    sticky: flags.sticky === true,
    maxFails: integer(flags["max-fails"], "--max-fails"),
    failTimeout: integer(flags["fail-timeout"], "--fail-timeout"),
    maxBodyBytes: config.service.blobUploadLimit + BODY_HEADROOM,
    handleDomains: config.service.handleDomains.filter((d) => d !== ".test"),
    metricsAllow: (flags["metrics-allow"] as string[] | undefined)?.flatMap((list) => list.split(",").map((e) => e.trim())),
  };
  const problems = validateSiteOptions(options);
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  const site = generateNginxSite(options);
  if (flags.out) {
    writeFileSync(flags.out as string, site);
    process.stderr.write(`wrote ${flags.out}\n`);
  } else {
    process.stdout.write(site);
  }
  return 0;
}

function integer(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d+$/.test(value)) throw new UsageError(`${flag} expects a whole number`);
  return Number(value);
}
