/**
 * One account flooding its own repository through the HTTP stack, on SQLite
 * and on PostgreSQL with a pool of 3 connections: its writers queue in the
 * process (holding no connection) behind a bound, past which they get 429;
 * another account's write and read still go through promptly; no 500s; every
 * acknowledged write is in the repository. And a delete of a missing record
 * answers 200 without a commit, without waiting for the repository's lock.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { postgresS3, sqliteDisk } from "./backends";
import { type TestPlc, startPlc } from "@test/support/plc";
import type { TestContext } from "@test/support/context";

const FLOOD = 30;
const QUEUE_MAX = 8;
const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });

for (const backend of [sqliteDisk, postgresS3({ maxConnections: 3 })]) {
  describe(`repository write queue on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    beforeAll(async () => {
      plc = await startPlc();
      ctx = await backend.open({
        identity: { plcUrl: plc.url },
        service: { inviteRequired: false, repoWriteQueueMax: QUEUE_MAX },
        rateLimit: { enabled: false },
      });
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    const call = (nsid: string, body: unknown, token?: string) =>
      ctx.request(`/xrpc/${nsid}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const account = async () => {
      const handle = `q${randomBytes(4).toString("hex")}.test`;
      const res = await call("com.atproto.server.createAccount", { handle, email: `${handle}@mail.test`, password: "queue-pass" });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { did: string; accessJwt: string };
      return { did: body.did, token: body.accessJwt };
    };
    const create = (a: { did: string; token: string }, text: string) =>
      call("com.atproto.repo.createRecord", { repo: a.did, collection: "app.bsky.feed.post", record: post(text) }, a.token);

    test(`${FLOOD} concurrent writes to one repository: the bound answers 429, the rest commit, another account is not held up`, async () => {
      const [flooder, other] = [await account(), await account()];
      let floodDone = 0;
      const flood = Array.from({ length: FLOOD }, async (_, i) => {
        const res = await create(flooder, `flood ${i}`);
        if (res.status === 200) floodDone++;
        return { status: res.status, body: (await res.json()) as { uri?: string; error?: string; message?: string } };
      });
      const started = performance.now();
      const written = await create(other, "meanwhile");
      const doneBeforeOther = floodDone;
      expect(written.status).toBe(200);
      const { uri } = (await written.json()) as { uri: string };
      const read = await ctx.request(`/xrpc/com.atproto.repo.getRecord?repo=${other.did}&collection=app.bsky.feed.post&rkey=${uri.split("/").pop()}`);
      expect(read.status).toBe(200);
      const otherMs = performance.now() - started;

      const results = await Promise.all(flood);
      const ok = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 429);
      console.log(`${backend.name}: ${ok.length} committed, ${refused.length} refused; the other account's write + read took ${otherMs.toFixed(0)} ms, after ${doneBeforeOther} of the flood's commits`);
      expect(ok.length + refused.length).toBe(FLOOD);
      expect(ok.length).toBeGreaterThanOrEqual(QUEUE_MAX + 1);
      // On SQLite the one connection already spaces the writers out (their auth and account reads queue for it too).
      if (ctx.db.shared) expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) expect(r.body).toEqual({ error: "RateLimitExceeded", message: expect.any(String) });
      // Without the queue every flood write holds or waits for a pool connection, and the other account queues behind them.
      // (SQLite has one connection and one writer for every repository, so there the other account takes its turn in that line.)
      if (ctx.db.shared) expect(doneBeforeOther).toBeLessThan(ok.length / 2);

      const listed = await ctx.request(`/xrpc/com.atproto.repo.listRecords?repo=${flooder.did}&collection=app.bsky.feed.post&limit=100`);
      const { records } = (await listed.json()) as { records: { uri: string }[] };
      expect(records.map((r) => r.uri).sort()).toEqual(ok.map((r) => r.body.uri!).sort());
    }, 60_000);

    test("deleting a record that does not exist: 200, no commit, no event, and no wait for the repository's lock", async () => {
      const a = await account();
      expect((await create(a, "keep")).status).toBe(200);
      const root = await ctx.repo.reader.getRoot(a.did);
      const events = async () => (await ctx.db.db().selectFrom("repo_seq").select("seq").where("did", "=", a.did).execute()).length;
      const eventsBefore = await events();
      const del = () => call("com.atproto.repo.deleteRecord", { repo: a.did, collection: "app.bsky.feed.post", rkey: "3kaaaaaaaaaa2" }, a.token);
      const answer = async () => {
        const res = await del();
        return { status: res.status, body: await res.json() };
      };
      if (ctx.db.shared) {
        // Another writer of this repository (any node) holds its lock meanwhile.
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        const holder = ctx.db.withRepoLock(a.did, async () => {
          locked();
          await held;
        });
        await isLocked;
        const res = await Promise.race([answer(), Bun.sleep(3000).then(() => "waited for the lock")]);
        release();
        await holder;
        expect(res).toEqual({ status: 200, body: {} });
      } else {
        expect(await answer()).toEqual({ status: 200, body: {} });
      }
      expect(await ctx.repo.reader.getRoot(a.did)).toEqual(root);
      expect(await events()).toBe(eventsBefore);
    });
  });
}
