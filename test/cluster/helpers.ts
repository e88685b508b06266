/**
 * What the cluster tests do to a deployment from the outside: sign up through
 * the balancer, call one node directly, fetch a repository's CAR, read the
 * signing key the PLC directory publishes.
 */
import { AtpAgent } from "@atproto/api";
import { randomBytes } from "node:crypto";
import type { Cluster } from "@test/support/cluster";

export const PASSWORD = "correct horse battery staple";

export interface Account {
  did: string;
  handle: string;
  /** Logged in through nginx. */
  agent: AtpAgent;
}

/** createAccount through nginx with @atproto/api, as a user would. */
export async function signUp(cluster: Cluster, name: string): Promise<Account> {
  const agent = new AtpAgent({ service: cluster.url });
  const handle = `${name}${randomBytes(3).toString("hex")}.test`;
  const res = await agent.createAccount({ handle, email: `${handle}@mail.test`, password: PASSWORD });
  return { did: res.data.did, handle, agent };
}

export interface Reply {
  status: number;
  body: any;
}

/** A raw XRPC call to one base URL (a node or nginx): status and parsed JSON body. */
export async function xrpc(
  base: string,
  nsid: string,
  init: { method?: "GET" | "POST"; query?: Record<string, string>; body?: unknown; token?: string } = {},
): Promise<Reply> {
  const query = init.query ? `?${new URLSearchParams(init.query)}` : "";
  const res = await fetch(`${base}/xrpc/${nsid}${query}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** `com.atproto.sync.getRepo` from one base URL, as bytes. */
export async function getRepoCar(base: string, did: string): Promise<Uint8Array> {
  const res = await fetch(`${base}/xrpc/com.atproto.sync.getRepo?did=${encodeURIComponent(did)}`);
  if (res.status !== 200) throw new Error(`getRepo from ${base}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The signing key (did:key) the PLC directory publishes for `did`. */
export async function plcSigningKey(cluster: Cluster, did: string): Promise<string> {
  const data = (await (await fetch(`${cluster.plcUrl}/${did}/data`)).json()) as { verificationMethods?: { atproto?: string } };
  const key = data.verificationMethods?.atproto;
  if (!key) throw new Error(`${did} has no atproto signing key in the PLC directory`);
  return key;
}

export const rkeyOf = (uri: string) => uri.split("/").pop()!;

export const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });

/** How many requests to `nsid` one node answered 200 since it started, from its /metrics. */
export async function served(nodeUrl: string, nsid: string): Promise<number> {
  const text = await (await fetch(`${nodeUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("aurora_http_requests_total{") && line.includes(`route="${nsid}"`) && line.includes('status="200"')) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}
