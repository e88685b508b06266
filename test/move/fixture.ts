/**
 * What the move tests fill a server with through the API, what they record
 * of it, and the checks a moved copy must pass against a listening server.
 */
import { expect } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AtpAgent } from "@atproto/api";
import { verifyRepoCar } from "@atproto/repo";
import { FirehoseClient } from "@test/support/firehose";
import { eventually } from "@test/support/eventually";
import { fakePng } from "@test/support/blobs";
import { S3_CREDENTIALS } from "@test/support/services";

/** The secrets testContext() uses: a config file for the CLI must carry the same ones. */
export const TEST_SECRETS = { jwtSecret: "test-jwt-secret-0123456789", adminPassword: "test-admin-password", plcRotationKeyHex: "a".repeat(64) };
export const ADMIN_AUTH = `Basic ${Buffer.from(`admin:${TEST_SECRETS.adminPassword}`).toString("base64")}`;

export interface AccountFacts {
  did: string;
  handle: string;
  password: string;
  root: string;
  records: number;
  accessJwt: string;
  refreshJwt: string;
}

/** What a filled server holds, as read through its API before the move. */
export interface Facts {
  accounts: AccountFacts[];
  appPassword: { handle: string; password: string };
  /** Bytes of every servable blob, by `did cid`. */
  blobs: Map<string, Uint8Array>;
  takenDown: { did: string; cid: string };
  preferences: unknown[];
  /** Every event seq, ascending. */
  seqs: number[];
}

const now = () => new Date().toISOString();

/**
 * Fill the server at `service`: accounts with `recordCounts[i]` posts each
 * (applyWrites, 200 a call), preferences, blobs referenced by posts (one of
 * them taken down), an unreferenced upload, an app password and an invite code.
 */
export async function fill(service: string, port: number, recordCounts: number[]): Promise<Facts> {
  const accounts: AccountFacts[] = [];
  const blobs = new Map<string, Uint8Array>();
  const agents: AtpAgent[] = [];
  for (const [i, count] of recordCounts.entries()) {
    const agent = new AtpAgent({ service });
    const handle = `mover${i}${randomBytes(3).toString("hex")}.test`;
    const password = `pass-${i}-${randomBytes(4).toString("hex")}`;
    const made = await agent.createAccount({ handle, email: `${handle}@mail.test`, password });
    for (let done = 0; done < count; done += 200) {
      const writes = Array.from({ length: Math.min(200, count - done) }, (_, k) => ({
        $type: "com.atproto.repo.applyWrites#create" as const,
        collection: "app.bsky.feed.post",
        value: { $type: "app.bsky.feed.post", text: `post ${done + k} of ${handle}`, createdAt: now() },
      }));
      await agent.com.atproto.repo.applyWrites({ repo: made.data.did, writes });
    }
    agents.push(agent);
    accounts.push({ did: made.data.did, handle, password, root: "", records: count, accessJwt: made.data.accessJwt, refreshJwt: made.data.refreshJwt });
  }
  const [alice, bob, carol] = [agents[0]!, agents[1]!, agents[2]!];
  const preferences = [{ $type: "app.bsky.actor.defs#adultContentPref", enabled: false }, { $type: "app.bsky.actor.defs#savedFeedsPrefV2", items: [] }];
  await alice.app.bsky.actor.putPreferences({ preferences });

  let takenDown = { did: "", cid: "" };
  for (const [agent, sizes] of [[alice, [20_000, 300_000, 1_200_000]], [bob, [50_000]], [carol, [10_000]]] as const) {
    const did = agent.session!.did;
    for (const size of sizes) {
      const bytes = fakePng(size);
      const up = await agent.uploadBlob(bytes, { encoding: "image/png" });
      await agent.com.atproto.repo.createRecord({
        repo: did,
        collection: "app.bsky.feed.post",
        record: { $type: "app.bsky.feed.post", text: "with image", createdAt: now(), embed: { $type: "app.bsky.embed.images", images: [{ image: up.data.blob, alt: "" }] } },
      });
      blobs.set(`${did} ${up.data.blob.ref.toString()}`, bytes);
      accounts.find((a) => a.did === did)!.records++;
      if (agent === carol) takenDown = { did, cid: up.data.blob.ref.toString() };
    }
  }
  // An upload no record references: its row stays temporary and is not moved.
  await carol.uploadBlob(fakePng(5_000), { encoding: "image/png" });
  const admin = { headers: { authorization: ADMIN_AUTH } };
  await carol.com.atproto.admin.updateSubjectStatus(
    { subject: { $type: "com.atproto.admin.defs#repoBlobRef", did: takenDown.did, cid: takenDown.cid }, takedown: { applied: true, ref: "move-test" } },
    { ...admin, encoding: "application/json" },
  );
  blobs.delete(`${takenDown.did} ${takenDown.cid}`);
  const appPassword = await bob.com.atproto.server.createAppPassword({ name: "phone" });
  await alice.com.atproto.server.createInviteCode({ useCount: 3 }, { ...admin, encoding: "application/json" });

  for (const account of accounts) {
    account.root = (await alice.com.atproto.sync.getLatestCommit({ did: account.did })).data.cid;
  }
  const seqs = await allSeqs(port);
  return { accounts, appPassword: { handle: accounts[1]!.handle, password: appPassword.data.password }, blobs, takenDown, preferences, seqs };
}

/** Every event the firehose replays from the start, by seq. */
async function allSeqs(port: number): Promise<number[]> {
  const client = new FirehoseClient(port, 0);
  await client.opened;
  let last = -1;
  // Replay is done once two polls a quarter second apart see the same count.
  await eventually(
    () => {
      const n = client.seqs().length;
      const settled = n > 0 && n === last;
      last = n;
      return settled;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: "the firehose replay to settle" },
  );
  client.ws.close();
  return client.seqs();
}

/**
 * A moved copy, served at `service` (port `port`), must hold what `facts`
 * recorded: log-ins with the old passwords and the app password, old access
 * tokens, every repository verifying with the same root and record count,
 * every blob's bytes, the preferences, and a firehose cursor from before the
 * move replaying without a gap and continuing with the next seq.
 */
export async function checkServed(service: string, port: number, facts: Facts, didKey: (did: string) => Promise<string>, opts: { refresh: boolean }): Promise<Facts> {
  for (const account of facts.accounts) {
    const agent = new AtpAgent({ service });
    await agent.login({ identifier: account.handle, password: account.password });
    expect(agent.session?.did).toBe(account.did);
    const old = await fetch(`${service}/xrpc/com.atproto.server.getSession`, { headers: { authorization: `Bearer ${account.accessJwt}` } });
    expect(old.status).toBe(200);
    if (opts.refresh) {
      const refreshed = await fetch(`${service}/xrpc/com.atproto.server.refreshSession`, { method: "POST", headers: { authorization: `Bearer ${account.refreshJwt}` } });
      expect(refreshed.status).toBe(200);
    }
    const car = await agent.com.atproto.sync.getRepo({ did: account.did });
    const verified = await verifyRepoCar(car.data, account.did, await didKey(account.did));
    expect({ did: account.did, root: verified.commit.cid.toString(), records: verified.creates.length }).toEqual({ did: account.did, root: account.root, records: account.records });
  }
  const viaApp = new AtpAgent({ service });
  await viaApp.login({ identifier: facts.appPassword.handle, password: facts.appPassword.password });
  const prefs = await viaApp.com.atproto.server.getSession();
  expect(prefs.data.handle).toBe(facts.appPassword.handle);
  const alice = new AtpAgent({ service });
  await alice.login({ identifier: facts.accounts[0]!.handle, password: facts.accounts[0]!.password });
  expect((await alice.app.bsky.actor.getPreferences()).data.preferences).toEqual(facts.preferences as never);

  for (const [key, bytes] of facts.blobs) {
    const [did, cid] = key.split(" ") as [string, string];
    const res = await fetch(`${service}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${cid}`);
    expect({ key, status: res.status }).toEqual({ key, status: 200 });
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), Buffer.from(bytes))).toBe(0);
  }
  const hidden = await fetch(`${service}/xrpc/com.atproto.sync.getBlob?did=${facts.takenDown.did}&cid=${facts.takenDown.cid}`);
  expect(hidden.status).toBeGreaterThanOrEqual(400);

  // A relay that had read up to the middle of the stream picks up where it was.
  const middle = facts.seqs[Math.floor(facts.seqs.length / 2)]!;
  const last = facts.seqs[facts.seqs.length - 1]!;
  const relay = new FirehoseClient(port, middle);
  await relay.opened;
  await relay.waitForSeq(last, 20_000);
  expect(relay.seqs()).toEqual(facts.seqs.filter((s) => s > middle));
  const posted = await alice.com.atproto.repo.createRecord({
    repo: facts.accounts[0]!.did,
    collection: "app.bsky.feed.post",
    record: { $type: "app.bsky.feed.post", text: "after the move", createdAt: now() },
  });
  await relay.waitForSeq(last + 1, 10_000);
  expect(relay.seqs().at(-1)).toBe(last + 1);
  await alice.com.atproto.repo.deleteRecord({ repo: facts.accounts[0]!.did, collection: "app.bsky.feed.post", rkey: posted.data.uri.split("/").pop()! });
  await relay.waitForSeq(last + 2, 10_000);
  relay.ws.close();
  // The copy now holds two more events and alice's newer root: what the next move must carry.
  const root = (await alice.com.atproto.sync.getLatestCommit({ did: facts.accounts[0]!.did })).data.cid;
  return { ...facts, accounts: facts.accounts.map((a, i) => (i === 0 ? { ...a, root } : a)), seqs: [...facts.seqs, last + 1, last + 2] };
}

/** Write an Aurora config file for the CLI; `backend` is the TypeScript of its db and blobs fields. */
export function writeConfig(dir: string, name: string, dataDir: string, backend: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(
    file,
    `import { defineConfig, disk, postgres, s3, sqlite } from "aurora";
void disk; void postgres; void s3; void sqlite;
export default defineConfig({
  dataDir: ${JSON.stringify(dataDir)},
  secrets: ${JSON.stringify(TEST_SECRETS)},
  log: { level: "warn" },
  ${backend}
});
`,
  );
  return file;
}

/** The config fields of SQLite + disk under the data directory. */
export const SQLITE_DISK = `db: sqlite({ path: "aurora.sqlite" }), blobs: disk({ location: "blobs" }),`;

/** The config fields of PostgreSQL database `url` and the shared S3 bucket under `prefix`. */
export function postgresS3Fields(url: string, prefix: string): string {
  const s3 = {
    bucket: process.env.AURORA_TEST_S3_BUCKET,
    endpoint: process.env.AURORA_TEST_S3_ENDPOINT,
    ...S3_CREDENTIALS,
    region: "us-east-1",
    forcePathStyle: true,
    checksums: "when_required",
    prefix,
  };
  return `db: postgres({ url: ${JSON.stringify(url)} }), blobs: s3(${JSON.stringify(s3)}),`;
}
