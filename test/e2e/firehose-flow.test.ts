/**
 * The whole chain through the real server: accounts and records written with
 * @atproto/api come out of subscribeRepos, and the official consumer
 * (@atproto/sync's Firehose) verifies every #commit against the signing key
 * the PLC directory publishes for the account.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { IdResolver } from "@atproto/identity";
import { Firehose, type Event } from "@atproto/sync";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { FirehoseClient } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { verifySync11Commit } from "@test/support/sync11";
import { type Node, plcData, startNode } from "./accounts-support";
import { eventually } from "@test/support/eventually";

const dir = mkdtempSync(join(tmpdir(), "aurora-e2e-firehose-"));
let plc: TestPlc;
let node: Node;

beforeAll(async () => {
  plc = await startPlc();
  node = await startNode({ plcUrl: plc.url, db: sqlite({ path: join(dir, "aurora.sqlite") }), config: { service: { inviteRequired: false } } });
});
afterAll(async () => {
  await node?.stop();
  await plc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("signing up and writing records produce #identity, #account, #sync and verified #commit events", async () => {
  const raw = new FirehoseClient(Number(new URL(node.url).port), 0);
  await raw.opened;
  const events: Event[] = [];
  const errors: Error[] = [];
  const official = new Firehose({
    service: node.url.replace("http", "ws"),
    idResolver: new IdResolver({ plcUrl: plc.url }),
    unauthenticatedHandles: true,
    handleEvent: async (evt: Event) => void events.push(evt),
    onError: (err: Error) => void errors.push(err),
  });
  void official.start();

  const agent = node.agent();
  await agent.createAccount({ handle: "fire.test", email: "fire@example.com", password: "hunter2-fire" });
  const did = agent.session!.did;
  const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });
  const first = await agent.com.atproto.repo.createRecord({ repo: did, collection: "app.bsky.feed.post", record: post("one") });
  const second = await agent.com.atproto.repo.createRecord({ repo: did, collection: "app.bsky.feed.post", record: post("two") });
  const rkey = (uri: string) => uri.split("/").pop()!;
  await agent.com.atproto.repo.putRecord({ repo: did, collection: "app.bsky.feed.post", rkey: rkey(first.data.uri), record: post("one, edited") });
  await agent.com.atproto.repo.deleteRecord({ repo: did, collection: "app.bsky.feed.post", rkey: rkey(second.data.uri) });
  await agent.com.atproto.identity.updateHandle({ handle: "blaze.test" });

  await eventually(
    () => raw.frames.filter((f) => f.header.t === "#commit").length === 4 && raw.frames.some((f) => f.body.handle === "blaze.test"),
    { timeoutMs: 10_000, what: "all events" },
  );
  expect(raw.frames.map((f) => f.header.t)).toEqual(["#identity", "#account", "#sync", "#commit", "#commit", "#commit", "#commit", "#identity"]);
  const seqs = raw.frames.map((f) => f.body.seq as number);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(raw.frames[0]!.body).toMatchObject({ did, handle: "fire.test" });
  expect(raw.frames[1]!.body).toMatchObject({ did, active: true });

  // Each #commit checks out on its own (signature, ops against prevData) and chains to the previous one.
  const signingKey = (await plcData(plc.url, did)).verificationMethods.atproto!;
  let previous: { data: string; rev: string } | undefined;
  for (const frame of raw.frames.filter((f) => f.header.t === "#commit")) {
    const body = frame.body as Record<string, unknown>;
    if (previous) expect(body.since).toBe(previous.rev);
    previous = await verifySync11Commit(body, signingKey);
  }

  await eventually(
    () => events.filter((e) => ["create", "update", "delete"].includes(e.event)).length === 4,
    { timeoutMs: 10_000, what: "verified record events" },
  );
  await official.destroy();
  raw.close();
  expect(errors).toEqual([]);
  expect(events.filter((e) => ["create", "update", "delete"].includes(e.event)).map((e) => [e.event, "uri" in e ? e.uri.toString() : ""])).toEqual([
    ["create", first.data.uri],
    ["create", second.data.uri],
    ["update", first.data.uri],
    ["delete", second.data.uri],
  ]);
}, 30_000);
