import { isIpOrRange } from "@/rate-limit/client-ip";

/**
 * The nginx site file for N identical Aurora nodes behind one balancer
 * (Scalability Guide, "Horizontal Scaling"): an upstream and the server
 * blocks, to be included from nginx.conf's `http {}` block.
 */
export interface NginxSiteOptions {
  /** Node addresses, `host:port`. */
  nodes: readonly string[];
  /** The PDS's public hostname (server_name). */
  serverName: string;
  /** `PORT` or `ADDRESS:PORT` nginx listens on. @default "443" with TLS, else "80" */
  listen?: string;
  /** TLS certificate and key; plain HTTP when absent. */
  tls?: { cert: string; key: string };
  /** `ip_hash` (sticky by client IP) instead of `least_conn`. @default false */
  sticky?: boolean;
  /** @default 3 */
  maxFails?: number;
  /** Seconds. @default 30 */
  failTimeout?: number;
  /** client_max_body_size in bytes: the blob upload limit plus headroom. */
  maxBodyBytes: number;
  /** Handle domains (e.g. `.example.com`) whose subdomains' /.well-known/atproto-did is passed through. */
  handleDomains?: readonly string[];
  /** Name of the upstream block. @default "aurora" */
  upstream?: string;
  /** Client addresses or CIDR ranges allowed to reach /metrics; everyone else gets nginx's 403. @default open */
  metricsAllow?: readonly string[];
}

const NODE = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/;
const HOST = /^[A-Za-z0-9.-]+$/;
const LISTEN = /^(?:[A-Za-z0-9.-]+:|\[[0-9A-Fa-f:]+\]:)?\d{1,5}$/;
/** What nginx's `allow` takes: a bare address or CIDR range, nothing else (no brackets, zones or spaces). */
const ALLOW = /^[0-9A-Fa-f.:]+(?:\/\d{1,3})?$/;

/** Values that reach the file are checked here, so no flag can inject nginx directives. */
export function validateSiteOptions(o: NginxSiteOptions): string[] {
  const problems: string[] = [];
  if (o.nodes.length === 0) problems.push("at least one --node HOST:PORT is required");
  for (const node of o.nodes) if (!NODE.test(node)) problems.push(`--node ${JSON.stringify(node)} is not HOST:PORT`);
  if (!HOST.test(o.serverName)) problems.push(`--server-name ${JSON.stringify(o.serverName)} is not a hostname`);
  if (o.listen !== undefined && !LISTEN.test(o.listen)) problems.push(`--listen ${JSON.stringify(o.listen)} is not PORT or ADDRESS:PORT`);
  for (const file of o.tls ? [o.tls.cert, o.tls.key] : []) {
    if (!/^[^\s;{}'"]+$/.test(file)) problems.push(`TLS file path ${JSON.stringify(file)} has characters nginx would misread`);
  }
  for (const d of o.handleDomains ?? []) if (!/^\.[A-Za-z0-9.-]+$/.test(d)) problems.push(`handle domain ${JSON.stringify(d)} must look like .example.com`);
  if (o.metricsAllow?.length === 0) problems.push("--metrics-allow needs at least one address or CIDR range");
  for (const entry of o.metricsAllow ?? []) {
    if (!ALLOW.test(entry) || !isIpOrRange(entry)) problems.push(`--metrics-allow ${JSON.stringify(entry)} is not an IP address or CIDR range`);
  }
  return problems;
}

export function generateNginxSite(o: NginxSiteOptions): string {
  const upstream = o.upstream ?? "aurora";
  const listen = o.listen ?? (o.tls ? "443" : "80");
  const servers = o.nodes.map((n) => `    server ${n} max_fails=${o.maxFails ?? 3} fail_timeout=${o.failTimeout ?? 30}s;`);
  const bodyMb = Math.ceil(o.maxBodyBytes / (1024 * 1024));
  // `listen ... ssl http2` rather than `http2 on;`: Debian 12 ships nginx 1.22, which predates the latter.
  const listenLine = o.tls ? `    listen ${listen} ssl http2;` : `    listen ${listen};`;
  const tlsLines = o.tls
    ? `\n    ssl_certificate ${o.tls.cert};\n    ssl_certificate_key ${o.tls.key};\n    ssl_protocols TLSv1.2 TLSv1.3;\n`
    : "";
  // A node that cannot even accept stops costing a request after 3 s. Bun.serve closes a request that has
  // sent nothing for 10 s (its idleTimeout) on its own, so 15 s without a byte means a hung node, not a slow
  // answer; the firehose has its own location with no such limit.
  const timeouts = `        proxy_connect_timeout 3s;
        proxy_send_timeout 15s;
        proxy_read_timeout 15s;`;
  const proxyHeaders = `        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;`;

  const main = `server {
${listenLine}
    server_name ${o.serverName};
${tlsLines}
    # Blob uploads up to the PDS's limit; bodies stream to the node.
    client_max_body_size ${bodyMb}m;
    proxy_request_buffering off;

    location / {
        proxy_pass http://${upstream};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
${proxyHeaders}
${timeouts}
        # Another node for a request that got no answer (nginx retries a POST only when it was never sent).
        # Not for a 503: that is a node alive and saying a backend they all share is unavailable, so the
        # others would say the same, and counting it against max_fails would mark every node down at once.
        proxy_next_upstream error timeout http_502;
        proxy_next_upstream_tries 2;
    }

    # The firehose: a WebSocket that stays open for hours; never buffer it.
    location = /xrpc/com.atproto.sync.subscribeRepos {
        proxy_pass http://${upstream};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
${proxyHeaders}
        proxy_connect_timeout 3s;
        proxy_buffering off;
        proxy_read_timeout 1d;
        proxy_send_timeout 1d;
    }

${metricsLocation(o.metricsAllow, upstream, proxyHeaders, timeouts)}    # Load-balancer and uptime probes: not worth a log line each.
    location = /health/live {
        proxy_pass http://${upstream};
        proxy_connect_timeout 3s;
        proxy_read_timeout 5s;
        access_log off;
    }
}
`;
  const handles = (o.handleDomains ?? []).map((d) => `*${d}`);
  const handleServer = handles.length
    ? `
# Handles under the PDS's domains resolve over HTTPS at /.well-known/atproto-did.
server {
${listenLine}
    server_name ${handles.join(" ")};
${tlsLines}
    location = /.well-known/atproto-did {
        proxy_pass http://${upstream};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
${proxyHeaders}
${timeouts}
    }

    location / {
        return 404;
    }
}
`
    : "";
  return `# Generated by \`aurora nginx\`: include it from the http {} block of nginx.conf.
upstream ${upstream} {
    ${o.sticky ? "ip_hash;   # sticky: one client IP, one node" : "least_conn;"}
${servers.join("\n")}
    keepalive 32;
    # Below Bun.serve's 10 s idle timeout: nginx must drop an idle connection before the node does, or a
    # request sent on it as the node closes it fails, and a POST is not retried elsewhere (a 502).
    keepalive_timeout 5s;
}

${main}${handleServer}`;
}

/** Scrapes only from the allowed addresses; the node still sees the client IP in the forwarding headers. */
function metricsLocation(allow: readonly string[] | undefined, upstream: string, proxyHeaders: string, timeouts: string): string {
  if (!allow?.length) return "";
  return `    # Prometheus scrapes only from these addresses (aurora nginx --metrics-allow).
    location = /metrics {
${allow.map((entry) => `        allow ${entry};`).join("\n")}
        deny all;
        proxy_pass http://${upstream};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
${proxyHeaders}
${timeouts}
        access_log off;
    }

`;
}
