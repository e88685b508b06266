import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A minimal nginx.conf under `prefix` that includes `<prefix>/site.conf` (the
 * file `aurora nginx` writes) from its http block, with every path nginx
 * writes kept under `prefix`, so nginx runs unprivileged-style in a temp dir.
 * Returns the conf's path, for `nginx -t -p prefix -c conf` or a foreground run.
 */
export function writeNginxConf(prefix: string, workerConnections = 1024): string {
  mkdirSync(join(prefix, "logs"), { recursive: true });
  const conf = join(prefix, "nginx.conf");
  writeFileSync(
    conf,
    `pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log;
events { worker_connections ${workerConnections}; }
http {
    access_log ${prefix}/logs/access.log;
    client_body_temp_path ${prefix}/body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    include ${prefix}/site.conf;
}
`,
  );
  return conf;
}
