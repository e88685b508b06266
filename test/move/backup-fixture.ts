/**
 * A server filled through the API for the backup tests, the config files
 * `aurora backup` / `restore` read, and the checks a restored server must
 * pass (log-ins, getRepo roots, blobs, a firehose cursor from before).
 */
import { expect } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AtpAgent } from "@atproto/api";
import { verifyRepoCar } from "@atproto/repo";
import type { DatabasePlugin } from "@/contracts/db";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import { ADMIN_PASSWORD, JWT_SECRET, type Node, basic, startNode } from "@test/e2e/accounts-support";
import { fakePng } from "@test/support/blobs";
import { eventually } from "@test/support/eventually";
import { FirehoseClient } from "@test/support/firehose";

export const ROTATION_KEY = "5".repeat(64);

/** How a config file names its backends: the text of the `db:` and `blobs:` values. */
export interface Backends {
  db: string;
  blobs: string;
  /** Builds the same backends for an in-process node. */
  plugins(): { db: DatabasePlugin; blobs?: BlobStorePlugin };
}

/** Write `<dir>/aurora.config.ts` for `backends` and return its path. */
export function writeConfig(dir: string, backends: Backends, plcUrl: string, secrets: { plcRotationKeyHex?: string } = {}): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "aurora.config.ts");
  const key = secrets.plcRotationKeyHex ?? ROTATION_KEY;
  writeFileSync(
    file,
    `import { defineConfig, sqlite, disk, postgres, s3 } from "aurora";
export default defineConfig({
  dataDir: ${JSON.stringify(dir)},
  db: ${backends.db},
  blobs: ${backends.blobs},
  identity: { plcUrl: ${JSON.stringify(plcUrl)} },
  service: { hostname: "localhost", devMode: true },
  log: { level: "warn" },
  secrets: { jwtSecret: ${JSON.stringify(JWT_SECRET)}, adminPassword: ${JSON.stringify(ADMIN_PASSWORD)}, plcRotationKeyHex: ${JSON.stringify(key)} },
});
`,
  );
  return file;
}

/** A node over the backends of a config dir (same data directory and plugins as its config file). */
export function nodeOn(dir: string, backends: Backends, plcUrl: string): Promise<Node> {
  const { db, blobs } = backends.plugins();
  return startNode({
    plcUrl,
    db,
    config: { dataDir: dir, service: { inviteRequired: false }, ...(blobs ? { blobs } : {}) },
  });
}

export interface FilledAccount {
  did: string;
  handle: string;
  password: string;
  appPassword: string;
  root: { cid: string; rev: string };
  records: number;
  /** Blob CID → bytes. */
  blobs: Map<string, Uint8Array>;
}

export interface Filled {
  accounts: FilledAccount[];
  /** The newest firehose seq after filling, and one from the middle (a relay's cursor). */
  lastSeq: number;
  midSeq: number;
  /** The seqs after midSeq, as the source has them. */
  laterSeqs: number[];
}

/** Shared by every account: stored once in the backup's content-addressed store. */
const SHARED_PICTURE = fakePng(20_000);

/** Accounts with posts, an avatar, an image post (one picture shared by all), likes and an app password. */
export async function fill(node: Node, opts: { accounts: number; posts: number; tag: string }): Promise<Filled> {
  const accounts: FilledAccount[] = [];
  for (let i = 0; i < opts.accounts; i++) {
    const agent = node.agent();
    const handle = `${opts.tag}${i}.test`;
    const password = `password-${opts.tag}-${i}`;
    await agent.createAccount({ handle, email: `${opts.tag}${i}@example.com`, password });
    const did = agent.session!.did;
    const avatar = fakePng(3_000 + i);
    const avatarRef = (await agent.uploadBlob(avatar, { encoding: "image/png" })).data.blob;
    const pictureRef = (await agent.uploadBlob(SHARED_PICTURE, { encoding: "image/png" })).data.blob;
    await agent.com.atproto.repo.putRecord({
      repo: did,
      collection: "app.bsky.actor.profile",
      rkey: "self",
      record: { $type: "app.bsky.actor.profile", displayName: `Backup ${i}`, avatar: avatarRef },
    });
    await agent.post({ text: "a picture", createdAt: new Date().toISOString(), embed: { $type: "app.bsky.embed.images", images: [{ image: pictureRef, alt: "noise" }] } });
    const writes = Array.from({ length: opts.posts }, (_, n) => ({
      $type: "com.atproto.repo.applyWrites#create" as const,
      collection: "app.bsky.feed.post",
      value: { $type: "app.bsky.feed.post", text: `post ${n} of ${handle}`, createdAt: new Date().toISOString() },
    }));
    for (let at = 0; at < writes.length; at += 100) await agent.com.atproto.repo.applyWrites({ repo: did, writes: writes.slice(at, at + 100) });
    const appPassword = (await agent.com.atproto.server.createAppPassword({ name: "backup test" })).data.password;
    const head = (await agent.com.atproto.sync.getLatestCommit({ did })).data;
    accounts.push({
      did,
      handle,
      password,
      appPassword,
      root: { cid: head.cid, rev: head.rev },
      records: opts.posts + 2,
      blobs: new Map([
        [avatarRef.ref.toString(), avatar],
        [pictureRef.ref.toString(), SHARED_PICTURE],
      ]),
    });
  }
  const seqs = await node.ctx.db.db().selectFrom("repo_seq").select("seq").orderBy("seq").execute();
  const lastSeq = seqs[seqs.length - 1]!.seq;
  const mid = Math.floor(seqs.length / 2);
  return { accounts, lastSeq, midSeq: seqs[mid]!.seq, laterSeqs: seqs.slice(mid + 1).map((r) => r.seq) };
}

/**
 * What a restored server must serve: every account logs in with its
 * password and app password, getRepo verifies with the same root and record
 * count, every blob comes back byte for byte, and a firehose cursor from
 * before the backup replays every later event without a gap, the next write
 * taking the next seq.
 */
export async function expectRestored(node: Node, filled: Filled): Promise<void> {
  for (const account of filled.accounts) {
    const agent = node.agent();
    await agent.login({ identifier: account.handle, password: account.password });
    expect(agent.session?.did).toBe(account.did);
    await node.agent().login({ identifier: account.handle, password: account.appPassword });
    const anon = new AtpAgent({ service: node.url });
    const head = (await anon.com.atproto.sync.getLatestCommit({ did: account.did })).data;
    expect({ cid: head.cid, rev: head.rev }).toEqual(account.root);
    const car = (await anon.com.atproto.sync.getRepo({ did: account.did })).data;
    const verified = await verifyRepoCar(car, account.did);
    expect({ cid: verified.commit.cid.toString(), rev: verified.commit.rev }).toEqual(account.root);
    expect(verified.creates.length).toBe(account.records);
    for (const [cid, bytes] of account.blobs) {
      const blob = await anon.com.atproto.sync.getBlob({ did: account.did, cid });
      expect(Buffer.from(blob.data).equals(Buffer.from(bytes))).toBe(true);
    }
  }
  const port = Number(new URL(node.url).port);
  const firehose = new FirehoseClient(port, filled.midSeq);
  try {
    await firehose.opened;
    await firehose.waitForSeq(filled.lastSeq, 15_000);
    const replayed = firehose.seqs();
    expect(replayed).toEqual(filled.laterSeqs);
    // A raw call: after log-in an agent follows the DID document, which names the source's URL.
    const first = filled.accounts[0]!;
    const session = await node.call("com.atproto.server.createSession", { body: { identifier: first.handle, password: first.password } });
    const post = { $type: "app.bsky.feed.post", text: "after the restore", createdAt: new Date().toISOString() };
    const created = await node.call("com.atproto.repo.createRecord", {
      auth: `Bearer ${session.body.accessJwt}`,
      body: { repo: first.did, collection: "app.bsky.feed.post", record: post },
    });
    expect(created.status).toBe(200);
    await eventually(() => firehose.seqs().some((seq) => seq > filled.lastSeq), { timeoutMs: 15_000, what: "a new event after the restored ones" });
    expect(firehose.seqs().length).toBe(filled.laterSeqs.length + 1);
  } finally {
    firehose.close();
  }
}

/** Take a blob down (or lift it) through the admin API: updateSubjectStatus with a repoBlobRef. */
export function blobStatus(node: Node, blob: { did: string; cid: string }, applied: boolean) {
  return node.call("com.atproto.admin.updateSubjectStatus", {
    body: { subject: { $type: "com.atproto.admin.defs#repoBlobRef", did: blob.did, cid: blob.cid }, takedown: applied ? { applied, ref: "backup-test" } : { applied } },
    auth: basic("admin", ADMIN_PASSWORD),
  });
}

/** A blob taken down on the source: restored, it must stay quarantined and come back whole after an untakedown. */
export interface TakenDownBlob {
  did: string;
  cid: string;
  bytes: Uint8Array;
}

/** `fill`, then take the last account's avatar down; `filled` no longer lists it (it is not served any more). */
export async function fillWithTakedown(node: Node, opts: { accounts: number; posts: number; tag: string }): Promise<{ filled: Filled; takenDown: TakenDownBlob }> {
  const filled = await fill(node, opts);
  const last = filled.accounts[opts.accounts - 1]!;
  const [cid, bytes] = [...last.blobs].find(([, b]) => b.byteLength !== 20_000)!;
  const takenDown = { did: last.did, cid, bytes };
  last.blobs.delete(cid);
  expect((await blobStatus(node, takenDown, true)).status).toBe(200);
  return { filled, takenDown };
}
