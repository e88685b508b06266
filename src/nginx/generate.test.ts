import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listen } from "@/http/server";
import { testContext } from "@test/support/context";
import { writeNginxConf } from "@test/support/nginx";
import { waitForHttp } from "@test/support/process";
import { freePort } from "@test/support/services";
import { generateNginxSite, type NginxSiteOptions, validateSiteOptions } from "./generate";

const dir = mkdtempSync(join(tmpdir(), "aurora-nginx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The generated site file under `prefix`, wrapped in a minimal nginx.conf. */
function nginxConf(prefix: string, site: string): string {
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, "site.conf"), site);
  return writeNginxConf(prefix, 256);
}

function nginxTest(site: string): { ok: boolean; output: string } {
  const prefix = mkdtempSync(join(dir, "t-"));
  const res = spawnSync("nginx", ["-t", "-p", prefix, "-c", nginxConf(prefix, site)], { encoding: "utf8" });
  return { ok: res.status === 0, output: res.stderr + res.stdout };
}

function selfSignedCert(): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const res = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pds.example.com", "-keyout", key, "-out", cert], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(res.stderr);
  return { cert, key };
}

const base: NginxSiteOptions = {
  nodes: ["127.0.0.1:2583", "127.0.0.1:2584", "127.0.0.1:2585"],
  serverName: "pds.example.com",
  listen: "127.0.0.1:8443",
  maxBodyBytes: 100 * 1024 * 1024,
};

describe("aurora nginx output passes nginx -t", () => {
  const tls = selfSignedCert();
  test.each([
    ["plain HTTP, least_conn", { ...base }],
    ["TLS", { ...base, tls }],
    ["sticky ip_hash with custom failure settings", { ...base, sticky: true, maxFails: 5, failTimeout: 10 }],
    ["handle-domain pass-through", { ...base, tls, handleDomains: [".example.com", ".example.org"] }],
    ["a single node", { ...base, nodes: ["localhost:2583"] }],
    ["/metrics restricted to an allow-list", { ...base, tls, metricsAllow: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"] }],
  ])("%s", (_, options) => {
    expect(validateSiteOptions(options)).toEqual([]);
    const site = generateNginxSite(options);
    const result = nginxTest(site);
    expect(result.output).toContain("syntax is ok");
    expect(result.ok).toBe(true);
  });

  test("the site carries the guide's settings", () => {
    const site = generateNginxSite({ ...base, tls, handleDomains: [".example.com"] });
    for (const line of [
      "least_conn;",
      "server 127.0.0.1:2584 max_fails=3 fail_timeout=30s;",
      // Idle upstream connections are dropped by nginx before Bun.serve's 10 s idle timeout drops them.
      "keepalive_timeout 5s;",
      "client_max_body_size 100m;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Real-IP $remote_addr;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
      'proxy_set_header Connection "upgrade";',
      "proxy_buffering off;",
      "proxy_read_timeout 1d;",
      "location = /health/live",
      "access_log off;",
      "server_name *.example.com;",
      "location = /.well-known/atproto-did",
      `ssl_certificate ${tls.cert};`,
    ]) {
      expect(site).toContain(line);
    }
    expect(generateNginxSite({ ...base, sticky: true })).toContain("ip_hash;");
    // A hung node costs seconds, the firehose keeps its day; a 503 is an answer, not a node failure.
    const root = site.slice(site.indexOf("location / {"), site.indexOf("}", site.indexOf("location / {")));
    for (const line of ["proxy_connect_timeout 3s;", "proxy_read_timeout 15s;", "proxy_send_timeout 15s;", "proxy_next_upstream error timeout http_502;", "proxy_next_upstream_tries 2;"]) {
      expect(root).toContain(line);
    }
    expect(root).not.toContain("non_idempotent");
    expect(site).not.toContain("http_503");
    const firehose = site.slice(site.indexOf("location = /xrpc/com.atproto.sync.subscribeRepos"));
    expect(firehose.slice(0, firehose.indexOf("}"))).not.toContain("proxy_read_timeout 15s;");
    expect(site).not.toContain("location = /metrics");
    const restricted = generateNginxSite({ ...base, metricsAllow: ["10.0.0.0/8", "2001:db8::1"] });
    expect(restricted).toContain("    location = /metrics {\n        allow 10.0.0.0/8;\n        allow 2001:db8::1;\n        deny all;\n");
  });

  test.each([
    [{ nodes: [] }, "at least one --node"],
    [{ nodes: ["10.0.0.1:2583; evil"] }, "is not HOST:PORT"],
    [{ serverName: "pds.example.com; root /" }, "is not a hostname"],
    [{ tls: { cert: "/a b.pem", key: "/k.pem" } }, "characters nginx would misread"],
    [{ listen: "80; evil" }, "is not PORT or ADDRESS:PORT"],
    [{ metricsAllow: ["10.0.0.0/8; allow all"] }, "--metrics-allow"],
    [{ metricsAllow: ["10.0.0.0/8\n}"] }, "is not an IP address or CIDR range"],
    [{ metricsAllow: ["[2001:db8::1]"] }, "is not an IP address or CIDR range"],
    [{ metricsAllow: ["fe80::1%eth0"] }, "is not an IP address or CIDR range"],
    [{ metricsAllow: ["10.0.0.0/33"] }, "is not an IP address or CIDR range"],
    [{ metricsAllow: ["all"] }, "is not an IP address or CIDR range"],
    [{ metricsAllow: [] }, "needs at least one"],
  ])("refuses values that would inject directives: %j", (override, message) => {
    expect(validateSiteOptions({ ...base, ...override } as NginxSiteOptions).join("; ")).toContain(message);
  });
});

test("a real nginx with the generated config proxies to a real node", async () => {
  const ctx = await testContext({ service: { bind: "127.0.0.1" } });
  const node = listen(ctx, 0);
  const port = await freePort();
  const prefix = mkdtempSync(join(dir, "live-"));
  const site = { ...base, nodes: [`127.0.0.1:${node.port}`], listen: `127.0.0.1:${port}`, serverName: "localhost", metricsAllow: ["192.0.2.0/24"] };
  const conf = nginxConf(prefix, generateNginxSite(site));
  const proc = Bun.spawn(["nginx", "-p", prefix, "-c", conf, "-g", "daemon off;"], { stdout: "ignore", stderr: "pipe" });
  try {
    const res = await waitForHttp(`http://127.0.0.1:${port}/xrpc/_health`, 5000);
    expect(res.status).toBe(200);
    const described = await fetch(`http://127.0.0.1:${port}/xrpc/com.atproto.server.describeServer`);
    expect(((await described.json()) as { did: string }).did).toBe("did:web:localhost");
    // Loopback is not on the allow-list: nginx refuses the scrape itself.
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(403);
    expect(await metrics.text()).not.toContain("aurora_");
  } finally {
    proc.kill();
    await proc.exited;
    await node.shutdown();
    await ctx.close();
  }
});

test("a real nginx: 503s from every node (a shared backend's blip) do not mark the nodes failed", async () => {
  // Two stand-in nodes that answer 503 while `down`, like Aurora with its database unavailable.
  let down = true;
  const nodes = [0, 1].map(() =>
    Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(down ? "unavailable" : "ok", { status: down ? 503 : 200 }) }),
  );
  const port = await freePort();
  const prefix = mkdtempSync(join(dir, "blip-"));
  // max_fails=1 as in the cluster tests: one counted failure would take a node out for the whole fail_timeout.
  const site = { ...base, nodes: nodes.map((n) => `127.0.0.1:${n.port}`), listen: `127.0.0.1:${port}`, serverName: "localhost", maxFails: 1, failTimeout: 30 };
  const proc = Bun.spawn(["nginx", "-p", prefix, "-c", nginxConf(prefix, generateNginxSite(site)), "-g", "daemon off;"], { stdout: "ignore", stderr: "pipe" });
  try {
    const url = `http://127.0.0.1:${port}/xrpc/com.atproto.sync.listRepos`;
    expect((await waitForHttp(url, 5000)).status).toBe(503);
    const during = await Promise.all(Array.from({ length: 6 }, () => fetch(url).then((r) => r.status)));
    expect(during).toEqual(Array(6).fill(503));
    down = false;
    const after = await Promise.all(Array.from({ length: 6 }, () => fetch(url).then((r) => r.status)));
    expect(after).toEqual(Array(6).fill(200));
  } finally {
    proc.kill();
    await proc.exited;
    for (const n of nodes) n.stop(true);
  }
});
