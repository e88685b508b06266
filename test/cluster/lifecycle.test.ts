/**
 * Issue 14 on the deployment of docs/SCALING.md: three compiled nodes behind
 * nginx mail through a real SMTP server; a code requested through one node
 * is spent on another (tokens live in PostgreSQL); a password reset ends the
 * account's sessions on every node; a deletion leaves the shared services
 * holding nothing of the account; an SMTP outage is a clean answer, counted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import Redis from "ioredis";
import postgresjs from "postgres";
import { type Cluster, startCluster } from "@test/support/cluster";
import { type SmtpSink, startSmtpSink, tokenIn } from "@test/support/smtp";
import { PASSWORD, type Account, signUp, xrpc } from "./helpers";

let sink: SmtpSink;
let cluster: Cluster;
let alice: Account;
beforeAll(async () => {
  sink = await startSmtpSink();
  cluster = await startCluster({ nodes: 3, env: { PDS_EMAIL_SMTP_URL: sink.url, PDS_EMAIL_FROM_ADDRESS: "pds@localhost" } });
  alice = await signUp(cluster, "alice");
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  await sink?.stop();
}, 60_000);

const email = (a: Account) => `${a.handle}@mail.test`;
const agentOn = (url: string) => new AtpAgent({ service: url });

test("an email confirmation code requested through one node is spent on another; getSession says so on the third", async () => {
  const [n0, n1, n2] = cluster.nodes;
  const seen = sink.messages().filter((m) => m.to.includes(email(alice))).length;
  const token = alice.agent.session!.accessJwt;
  expect((await xrpc(n0!.url, "com.atproto.server.requestEmailConfirmation", { method: "POST", token })).status).toBe(200);
  const code = tokenIn(await sink.next(email(alice), seen));
  expect((await xrpc(n1!.url, "com.atproto.server.confirmEmail", { token, body: { email: email(alice), token: code } })).status).toBe(200);
  const session = await xrpc(n2!.url, "com.atproto.server.getSession", { token });
  expect(session.body.emailConfirmed).toBe(true);
  // Single use, on any node.
  const again = await xrpc(n2!.url, "com.atproto.server.confirmEmail", { token, body: { email: email(alice), token: code } });
  expect(again.status).toBe(400);
});

test("a password reset requested through one node and done on another ends the account's sessions on every node", async () => {
  const bob = await signUp(cluster, "bob");
  const old = bob.agent.session!.accessJwt;
  const [n0, n1] = cluster.nodes;
  const seen = sink.messages().filter((m) => m.to.includes(email(bob))).length;
  expect((await xrpc(n0!.url, "com.atproto.server.requestPasswordReset", { body: { email: email(bob) } })).status).toBe(200);
  const code = tokenIn(await sink.next(email(bob), seen));
  await agentOn(n1!.url).com.atproto.server.resetPassword({ token: code, password: "a brand new password 1" });
  for (const node of cluster.nodes) expect((await xrpc(node.url, "com.atproto.server.getSession", { token: old })).status).toBeGreaterThanOrEqual(400);
  const relogin = agentOn(cluster.url);
  await expect(relogin.login({ identifier: bob.handle, password: PASSWORD })).rejects.toThrow();
  await relogin.login({ identifier: bob.handle, password: "a brand new password 1" });
  expect(relogin.session?.did).toBe(bob.did);
});

test("deleteAccount with a code mailed by another node leaves nothing of the account in PostgreSQL or Redis", async () => {
  const carol = await signUp(cluster, "carol");
  await carol.agent.post({ text: "soon gone", createdAt: new Date().toISOString() });
  const [n0, n1] = cluster.nodes;
  const seen = sink.messages().filter((m) => m.to.includes(email(carol))).length;
  expect((await xrpc(n0!.url, "com.atproto.server.requestAccountDelete", { method: "POST", token: carol.agent.session!.accessJwt })).status).toBe(200);
  const code = tokenIn(await sink.next(email(carol), seen));
  await agentOn(n1!.url).com.atproto.server.deleteAccount({ did: carol.did, password: PASSWORD, token: code });

  const sql = postgresjs(cluster.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const tables = await sql<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'did'`;
    const left: Record<string, number> = {};
    for (const { table_name } of tables) {
      const [row] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${table_name}" WHERE did = $1`, [carol.did]);
      if (row!.n > 0) left[table_name] = row!.n;
    }
    // Only the tombstone and the one #account deleted event remain, so relays learn of it and the DID is not re-created.
    expect(left).toEqual({ deleted_account: 1, repo_seq: 1 });
  } finally {
    await sql.end();
  }
  const redis = new Redis(cluster.redisUrl);
  try {
    const keys = await redis.keys(`${cluster.keyPrefix}*`);
    const values = await Promise.all(keys.map(async (k) => ((await redis.type(k)) === "string" ? ((await redis.get(k)) ?? "") : "")));
    expect(keys.filter((k) => k.includes(carol.did))).toEqual([]);
    expect(values.filter((v) => v.includes(carol.did))).toEqual([]);
  } finally {
    redis.disconnect();
  }
  const login = agentOn(cluster.url);
  await expect(login.login({ identifier: carol.handle, password: PASSWORD })).rejects.toThrow();
});

test("SMTP down: requests still answer promptly, and each node counts the failed send", async () => {
  await sink.stop();
  const token = alice.agent.session!.accessJwt;
  for (const node of cluster.nodes) {
    const started = performance.now();
    const res = await xrpc(node.url, "com.atproto.server.requestEmailConfirmation", { method: "POST", token });
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(6000);
  }
  for (const node of cluster.nodes) {
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/aurora_email_sent_total\{template="confirm-email",result="failed"\} [1-9]/);
  }
});
