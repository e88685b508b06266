/**
 * Real signed commits (built with @atproto/repo, as the repo write path does)
 * go through the sequencer and come out of the firehose; the official
 * consumer, @atproto/sync's Firehose, verifies each one against the signing
 * key and the MST proofs, and an inductive (Sync 1.1) check undoes the ops
 * to reach prevData and follows the since/prevData chain.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Secp256k1Keypair } from "@atproto/crypto";
import { WriteOpAction } from "@atproto/repo";
import { Firehose, type Event } from "@atproto/sync";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { FirehoseClient } from "@test/support/firehose";
import { type Node, startNode } from "@test/support/firehose-suite";
import { TestRepo, verifySync11Commit } from "@test/support/sync11";
import { eventually } from "@test/support/eventually";

const dir = mkdtempSync(join(tmpdir(), "aurora-firehose-"));
const did = "did:plc:officialconsumer00000000";
let node: Node;

beforeAll(async () => {
  node = await startNode(sqlite({ path: join(dir, "aurora.sqlite") }));
});
afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("@atproto/sync verifies every #commit; the ops invert to prevData and the commits chain", async () => {
  const keypair = await Secp256k1Keypair.create();
  const events: Event[] = [];
  const errors: Error[] = [];
  const official = new Firehose({
    service: `ws://127.0.0.1:${node.port}`,
    // A resolver that knows one DID: its key is what @atproto/sync checks commit signatures with.
    idResolver: { did: { resolveAtprotoKey: async () => keypair.did(), resolve: async () => null } } as never,
    unauthenticatedHandles: true,
    handleEvent: async (evt: Event) => void events.push(evt),
    onError: (err: Error) => void errors.push(err),
  });
  void official.start();
  const raw = new FirehoseClient(node.port);
  await raw.opened;
  await eventually(() => node.ctx.firehose.size === 2, { timeoutMs: 5000, what: "both consumers connected" });

  const repo = await TestRepo.create(did, keypair);
  const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });
  const commits = [
    await repo.commit([
      { action: WriteOpAction.Create, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaaa2", record: post("one") },
      { action: WriteOpAction.Create, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaab2", record: post("two") },
      { action: WriteOpAction.Create, collection: "app.bsky.feed.like", rkey: "3kaaaaaaaaac2", record: { $type: "app.bsky.feed.like" } },
    ]),
    await repo.commit([{ action: WriteOpAction.Update, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaaa2", record: post("one, edited") }]),
    await repo.commit([{ action: WriteOpAction.Delete, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaab2" }]),
  ];
  const seqs: number[] = [];
  for (const commit of commits) {
    seqs.push(await node.ctx.db.transaction((tx) => node.ctx.sequencer.sequenceCommit(tx, commit)));
    node.ctx.sequencer.announce();
  }

  await eventually(() => events.length >= 5, { timeoutMs: 10_000, what: "five verified record events" });
  await official.destroy();
  expect(errors).toEqual([]);
  expect(events.map((e) => [e.event, "uri" in e ? e.uri.toString() : "", e.seq])).toEqual([
    ["create", `at://${did}/app.bsky.feed.post/3kaaaaaaaaaa2`, seqs[0]!],
    ["create", `at://${did}/app.bsky.feed.post/3kaaaaaaaaab2`, seqs[0]!],
    ["create", `at://${did}/app.bsky.feed.like/3kaaaaaaaaac2`, seqs[0]!],
    ["update", `at://${did}/app.bsky.feed.post/3kaaaaaaaaaa2`, seqs[1]!],
    ["delete", `at://${did}/app.bsky.feed.post/3kaaaaaaaaab2`, seqs[2]!],
  ]);

  await raw.waitForSeq(seqs[2]!);
  let previous: { data: string; rev: string } | undefined;
  for (const frame of raw.frames) {
    expect(frame.header.t).toBe("#commit");
    if (previous) {
      expect(frame.body.since).toBe(previous.rev);
      expect(String(frame.body.prevData)).toBe(previous.data);
    }
    previous = await verifySync11Commit(frame.body, keypair.did());
  }
  raw.close();
});

test("a commit whose ops do not follow Sync 1.1 is refused inside the transaction", async () => {
  const keypair = await Secp256k1Keypair.create();
  const repo = await TestRepo.create("did:plc:officialconsumer00000001", keypair);
  const commit = await repo.commit([
    { action: WriteOpAction.Create, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaaa2", record: { text: "x" } },
  ]);
  const count = async () => (await node.ctx.db.db().selectFrom("repo_seq").select("seq").execute()).length;
  const before = await count();
  const bad = [
    { ...commit, ops: [{ ...commit.ops[0]!, prev: commit.ops[0]!.cid! }] },
    { ...commit, since: commit.rev, prevData: undefined },
    { ...commit, commit: commit.ops[0]!.cid! },
    { ...commit, rev: "not-a-tid" },
  ];
  for (const input of bad) {
    await expect(node.ctx.db.transaction((tx) => node.ctx.sequencer.sequenceCommit(tx, input))).rejects.toThrow("sequencer:");
  }
  expect(await count()).toBe(before);
});
