/**
 * One node's clock is wrong: beside a normal node of a PostgreSQL + Redis +
 * S3 cluster, two more nodes run with their clocks 10 minutes ahead and 10
 * minutes behind (libfaketime, see skewed-node.ts). Writes to the same
 * repositories go round the three nodes, sessions made on one are used on
 * the others, a firehose subscriber reads from the skewed node.
 *
 * What must hold: no acknowledged write lost, every repository verifies,
 * each commit's rev is above the one before it (TID.nextStr of the previous
 * rev, whatever the clock says) and the event log chains, no 500. What a
 * skewed clock breaks is recorded as observed (the `note` of the result):
 * DPoP proofs and nonces of a correct client, service-auth tokens minted by
 * the slow node, revs from the future.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { verifyRepoCar } from "@atproto/repo";
import { TID } from "@atproto/common-web";
import { decode } from "@ipld/dag-cbor";
import postgresjs from "postgres";
import { type Cluster, startCluster } from "@test/support/cluster";
import { FirehoseClient } from "@test/support/firehose";
import { dpopKey, proof } from "@test/oauth/kit";
import { type FaultResult, recordResult, skippedResult } from "./results";
import { type SkewedNode, skewUnavailable, startSkewedNode } from "./skewed-node";

const SKEW_SECONDS = 600;
/** Rounds of writes; each round writes once per account through each of the three nodes. */
const ROUNDS = 10;
const REQUEST_TIMEOUT_MS = 10_000;

interface Node {
  name: string;
  url: string;
  /** This node's clock minus the real one, in seconds. */
  offset: number;
}

let cluster: Cluster;
let ahead: SkewedNode;
let behind: SkewedNode;
let nodes: Node[];
const unavailable = skewUnavailable();
let requests = 0;
const statuses: Record<string, number> = {};
const unclean: string[] = [];

beforeAll(async () => {
  if (unavailable) return;
  const env = { PDS_RATE_LIMITS_ENABLED: "true" };
  cluster = await startCluster({ nodes: 1, env });
  [ahead, behind] = await Promise.all([startSkewedNode(cluster, SKEW_SECONDS, env), startSkewedNode(cluster, -SKEW_SECONDS, env)]);
  nodes = [
    { name: "normal", url: cluster.nodes[0]!.url, offset: 0 },
    { name: "+10 min", url: ahead.url, offset: SKEW_SECONDS },
    { name: "-10 min", url: behind.url, offset: -SKEW_SECONDS },
  ];
}, 240_000);

afterAll(async () => {
  await Promise.all([ahead?.stop(), behind?.stop()]);
  await cluster?.stop();
}, 60_000);

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

/** One request to one node, counted and bounded in time; a 5xx or a hang is unclean. */
async function send(url: string, init: RequestInit = {}): Promise<Reply> {
  requests++;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    statuses.timeout = (statuses.timeout ?? 0) + 1;
    unclean.push(`${url}: ${(err as Error).name}`);
    return { status: 0, body: null, headers: new Headers() };
  }
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (res.status >= 300) statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  if (res.status >= 500) unclean.push(`${url}: ${res.status} ${text.slice(0, 200)}`);
  return { status: res.status, body, headers: res.headers };
}

const xrpc = (node: Node, nsid: string, opts: { token?: string; body?: unknown; query?: Record<string, string> } = {}) =>
  send(`${node.url}/xrpc/${nsid}${opts.query ? `?${new URLSearchParams(opts.query)}` : ""}`, {
    method: opts.body === undefined ? "GET" : "POST",
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body === undefined ? {} : { "content-type": "application/json" }) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });

interface Account {
  did: string;
  handle: string;
  /** An access token minted by each node, by node name. */
  tokens: Record<string, string>;
  /** The refresh token of the same session, by node name. */
  refresh: Record<string, string>;
}

async function signUp(name: string): Promise<Account> {
  const handle = `${name}${Math.floor(Math.random() * 1e6)}.test`;
  const password = "correct horse battery staple";
  const made = await xrpc(nodes[0]!, "com.atproto.server.createAccount", { body: { handle, email: `${handle}@mail.test`, password } });
  if (made.status !== 200) throw new Error(`createAccount: ${made.status} ${JSON.stringify(made.body)}`);
  const tokens: Record<string, string> = {};
  const refresh: Record<string, string> = {};
  for (const node of nodes) {
    const session = await xrpc(node, "com.atproto.server.createSession", { body: { identifier: handle, password } });
    if (session.status !== 200) throw new Error(`createSession on the ${node.name} node: ${session.status} ${JSON.stringify(session.body)}`);
    tokens[node.name] = session.body.accessJwt;
    refresh[node.name] = session.body.refreshJwt;
  }
  return { did: made.body.did, handle, tokens, refresh };
}

test("a node 10 minutes ahead and one 10 minutes behind: no write lost, revs still increase, what breaks is recorded", async () => {
  if (unavailable) {
    recordResult(skippedResult("clock-skew", "Clock of one node ±10 min", unavailable));
    console.log(`clock-jump: not run: ${unavailable}`);
    return;
  }
  const started = Date.now();
  const observed: string[] = [];
  const checks: FaultResult["checks"] = [];

  // The preload took: each skewed node's Date header is off by the offset asked for.
  const measured = [await ahead.measuredOffset(), await behind.measuredOffset()];
  expect(Math.abs(measured[0]! - SKEW_SECONDS)).toBeLessThanOrEqual(2);
  expect(Math.abs(measured[1]! + SKEW_SECONDS)).toBeLessThanOrEqual(2);

  const accounts = [await signUp("tick"), await signUp("tock")];
  const subscriber = new FirehoseClient(ahead.port, 0);
  await subscriber.opened;

  // Sessions across clocks: an access token minted by each node, used on each node.
  const sessionGrid: string[] = [];
  for (const minter of nodes) {
    for (const user of nodes) {
      const res = await xrpc(user, "com.atproto.server.getSession", { token: accounts[0]!.tokens[minter.name] });
      sessionGrid.push(`${minter.name}→${user.name}: ${res.status}`);
    }
  }
  // Refresh tokens: a session made on the normal node is rotated on each node. The old pair keeps a grace
  // window (REFRESH_GRACE_MS, 10 min) for requests in flight and a retried refresh: is it kept across clocks?
  const refresher = await signUp("fresh");
  for (const rotator of nodes) {
    const made = await xrpc(nodes[0]!, "com.atproto.server.createSession", { body: { identifier: refresher.handle, password: "correct horse battery staple" } });
    const rotated = await send(`${rotator.url}/xrpc/com.atproto.server.refreshSession`, { method: "POST", headers: { authorization: `Bearer ${made.body.refreshJwt}` } });
    sessionGrid.push(`refresh on ${rotator.name}: ${rotated.status}`);
    const oldAccess = await xrpc(nodes[0]!, "com.atproto.server.getSession", { token: made.body.accessJwt });
    const retried = await send(`${nodes[0]!.url}/xrpc/com.atproto.server.refreshSession`, { method: "POST", headers: { authorization: `Bearer ${made.body.refreshJwt}` } });
    const said = (r: Reply) => `${r.status}${r.status === 200 ? "" : ` ${r.body?.error}`}`;
    observed.push(`refresh rotated on the ${rotator.name} node, then on the normal node: the old access token → ${said(oldAccess)}, the old refresh token retried → ${said(retried)}`);
  }
  // The fast node's tidy-up after a rotation deletes the account's rows expired by its clock: a session
  // rotated on the normal node a moment before, still in its grace window there, loses it.
  const login = () => xrpc(nodes[0]!, "com.atproto.server.createSession", { body: { identifier: refresher.handle, password: "correct horse battery staple" } });
  const [a, b] = [await login(), await login()];
  const refreshOn = (node: Node, token: string) => send(`${node.url}/xrpc/com.atproto.server.refreshSession`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  await refreshOn(nodes[0]!, a.body.refreshJwt);
  await refreshOn(nodes[1]!, b.body.refreshJwt);
  const graceRetry = await refreshOn(nodes[0]!, a.body.refreshJwt);
  checks.push({
    name: "a refresh's grace window survives the fast node's tidy-up of the account's dead sessions",
    ok: graceRetry.status === 200,
    detail: graceRetry.status === 200 ? undefined : `retry → ${graceRetry.status} ${graceRetry.body?.error}`,
  });
  const sessionsOk = sessionGrid.every((s) => s.endsWith(": 200"));
  checks.push({ name: "access tokens minted on any node accepted on every node; a refresh works on every node", ok: sessionsOk, detail: sessionsOk ? undefined : sessionGrid.join(", ") });

  // Writes to the same repositories round the three nodes, each with the token that node minted.
  const acked: { did: string; uri: string; cid: string; rev: string; node: string }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const node of nodes) {
      for (const account of accounts) {
        const res = await xrpc(node, "com.atproto.repo.createRecord", {
          token: account.tokens[node.name],
          body: { repo: account.did, collection: "app.bsky.feed.post", record: { $type: "app.bsky.feed.post", text: `round ${round} via ${node.name}`, createdAt: new Date().toISOString() } },
        });
        if (res.status === 200) acked.push({ did: account.did, uri: res.body.uri, cid: res.body.cid, rev: res.body.commit.rev, node: node.name });
      }
    }
  }
  expect(acked.length).toBe(ROUNDS * nodes.length * accounts.length);

  // Each repo's revs, in commit order, strictly increase, though the nodes' clocks disagree by 20 minutes.
  const backwards: string[] = [];
  for (const account of accounts) {
    const revs = acked.filter((a) => a.did === account.did).map((a) => a.rev);
    for (let i = 1; i < revs.length; i++) if (revs[i]! <= revs[i - 1]!) backwards.push(`${account.did}: ${revs[i - 1]} then ${revs[i]}`);
  }
  checks.push({ name: "revs strictly increase per repo across skewed nodes", ok: backwards.length === 0, detail: backwards.slice(0, 3).join("; ") || undefined });
  const lastRev = acked.at(-1)!.rev;
  const revAhead = Math.round(TID.fromStr(lastRev).timestamp() / 1000 / 1000 - Date.now() / 1000);
  observed.push(`after the +10 min node wrote, every later rev of the repo (whichever node makes it) is ~${revAhead} s in the future until real time catches up: a relay refusing future revs would hold those commits back`);

  // Nothing lost, read back from every node; every repo verifies on every node.
  let lost = 0;
  for (const a of acked) {
    for (const node of nodes) {
      const rkey = a.uri.split("/").pop()!;
      const res = await xrpc(node, "com.atproto.repo.getRecord", { query: { repo: a.did, collection: "app.bsky.feed.post", rkey } });
      if (res.status !== 200 || res.body.cid !== a.cid) lost++;
    }
  }
  checks.push({ name: "every acknowledged write readable on every node", ok: lost === 0 });
  const unverified: string[] = [];
  for (const account of accounts) {
    const key = ((await (await fetch(`${cluster.plcUrl}/${account.did}/data`)).json()) as { verificationMethods: { atproto: string } }).verificationMethods.atproto;
    for (const node of nodes) {
      const car = await fetch(`${node.url}/xrpc/com.atproto.sync.getRepo?did=${account.did}`);
      requests++;
      try {
        const verified = await verifyRepoCar(new Uint8Array(await car.arrayBuffer()), account.did, key);
        if (verified.creates.length !== ROUNDS * nodes.length) unverified.push(`${node.name}: ${verified.creates.length} records`);
      } catch (err) {
        unverified.push(`${node.name}: ${(err as Error).message}`);
      }
    }
  }
  checks.push({ name: "repositories verify on every node (verifyRepoCar)", ok: unverified.length === 0, detail: unverified.join("; ") || undefined });

  // The event log: seq from the database orders it; each repo's commits chain; the skewed node's subscriber sees it all.
  const events = await eventLog(accounts.map((a) => a.did));
  checks.push({ name: "event log: each repo's #commit chain unbroken, a #commit per acknowledged write", ok: events.problems.length === 0 && acked.every((a) => events.revs.has(a.rev)), detail: events.problems.slice(0, 3).join("; ") || undefined });
  observed.push(`event \`time\` went backwards ${events.timeBackwards} times in seq order (each node stamps its own clock; seq, not time, orders the stream)`);
  const head = events.maxSeq;
  await subscriber.waitForSeq(head, 15_000);
  const seqs = subscriber.seqs();
  const gaps = seqs.filter((s, i) => i > 0 && s !== seqs[i - 1]! + 1).length;
  subscriber.close();
  checks.push({ name: "firehose on the +10 min node: every event from cursor 0, gap-free", ok: gaps === 0 && seqs[0] === 1, detail: gaps ? `${gaps} gaps` : undefined });

  // Rate limits: createSession allows 30 per identifier and IP in 5 minutes; spread over the three
  // clocks, the 31st must still be refused (the distributed limiter reads the time from Redis).
  const limited = await signUp("limit");
  const loginStatuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const node = nodes[i % nodes.length]!;
    const res = await xrpc(node, "com.atproto.server.createSession", { body: { identifier: limited.handle, password: "correct horse battery staple" } });
    loginStatuses.push(res.status);
  }
  // signUp itself logged in once on each node: 33 attempts in all, 30 allowed.
  const refusedAt = loginStatuses.indexOf(429);
  checks.push({
    name: "createSession limit (30 / 5 min) counted once across the three clocks",
    ok: refusedAt === 27 && loginStatuses.slice(27).every((s) => s === 429),
    detail: refusedAt === 27 ? undefined : `statuses ${loginStatuses.join(",")}`,
  });

  // Service auth minted by each node (default lifetime 60 s), presented to the normal node's uploadBlob.
  const serviceDid = (await (await fetch(`${cluster.nodes[0]!.url}/.well-known/did.json`)).json()) as { id: string };
  for (const minter of nodes) {
    const minted = await xrpc(minter, "com.atproto.server.getServiceAuth", {
      token: accounts[0]!.tokens[minter.name],
      query: { aud: serviceDid.id, lxm: "com.atproto.repo.uploadBlob" },
    });
    if (minted.status !== 200) {
      observed.push(`getServiceAuth on the ${minter.name} node: ${minted.status} ${minted.body?.error}`);
      continue;
    }
    const used = await send(`${nodes[0]!.url}/xrpc/com.atproto.repo.uploadBlob`, {
      method: "POST",
      headers: { authorization: `Bearer ${minted.body.token}`, "content-type": "text/plain" },
      body: "clock",
    });
    observed.push(`service auth minted on the ${minter.name} node, used on the normal node: ${used.status}${used.status === 200 ? "" : ` ${used.body?.error} (${used.body?.message})`}`);
  }

  // DPoP: a client with the right clock sends a fresh proof, then one carrying the normal node's nonce.
  const key = await dpopKey();
  const htu = `${cluster.url}/oauth/par`;
  const first = await send(`${nodes[0]!.url}/oauth/par`, { method: "POST", headers: { dpop: await proof(key, "POST", htu), "content-type": "application/x-www-form-urlencoded" }, body: "" });
  const nonce = first.headers.get("dpop-nonce") ?? "";
  for (const node of nodes) {
    const fresh = await send(`${node.url}/oauth/par`, { method: "POST", headers: { dpop: await proof(key, "POST", htu), "content-type": "application/x-www-form-urlencoded" }, body: "" });
    // A proof dated by the node's own clock, with the normal node's nonce: only the nonce can be refused.
    const iat = Math.floor(Date.now() / 1000) + node.offset;
    const foreign = await send(`${node.url}/oauth/par`, { method: "POST", headers: { dpop: await proof(key, "POST", htu, { nonce, iat }), "content-type": "application/x-www-form-urlencoded" }, body: "" });
    observed.push(`DPoP on the ${node.name} node: a correct client's proof → ${fresh.status} ${fresh.body?.error}: ${fresh.body?.error_description}; the normal node's nonce → ${foreign.status} ${foreign.body?.error}: ${foreign.body?.error_description}`);
  }

  const result: FaultResult = {
    id: "clock-skew",
    fault: "Clock of one node ±10 min (libfaketime; beside a normal node, PostgreSQL + Redis + S3)",
    injections: 2,
    durationSeconds: (Date.now() - started) / 1000,
    requests,
    errorsByStatus: { ...statuses },
    failures: unclean.length,
    acknowledgedWrites: acked.length,
    lostWrites: lost,
    recoverySeconds: null,
    firehose: { subscribers: 1, events: seqs.length, gaps, errors: 0 },
    checks,
    note: observed.join(" | "),
    at: new Date().toISOString(),
  };
  recordResult(result);
  console.log(`clock-jump: ${JSON.stringify(result, null, 1)}`);

  expect(unclean).toEqual([]);
  expect(checks.filter((c) => !c.ok)).toEqual([]);
  expect(lost).toBe(0);
}, 180_000);

/** #commit rows of `dids` in seq order: chain problems, the revs seen, how often `time` stepped back, the head seq. */
async function eventLog(dids: string[]): Promise<{ problems: string[]; revs: Set<string>; timeBackwards: number; maxSeq: number }> {
  const sql = postgresjs(cluster.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ seq: string; did: string; event_type: string; event: Uint8Array }[]>`select seq, did, event_type, event from repo_seq order by seq`;
    const problems: string[] = [];
    const revs = new Set<string>();
    const last = new Map<string, string>();
    let timeBackwards = 0;
    let previousTime = "";
    for (const row of rows) {
      const body = decode(row.event) as { rev?: string; since?: string | null; time: string };
      if (body.time < previousTime) timeBackwards++;
      previousTime = body.time;
      if (row.event_type !== "commit" || !dids.includes(row.did)) continue;
      const before = last.get(row.did);
      if (before !== undefined && body.since !== before) problems.push(`seq ${row.seq}: since ${body.since}, previous rev ${before}`);
      revs.add(body.rev!);
      last.set(row.did, body.rev!);
    }
    return { problems, revs, timeBackwards, maxSeq: Number(rows.at(-1)?.seq ?? 0) };
  } finally {
    await sql.end();
  }
}
