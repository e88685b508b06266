/**
 * Bad input through the whole HTTP surface, on SQLite and on PostgreSQL
 * (which refuses NUL bytes in text, so any that reached a query used to be a
 * 500): every one is a 400 with an XRPC error body, and nothing is written.
 * Also records nested too deeply to walk, and commits too big for one
 * #commit event.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MAX_DATA_DEPTH } from "@/lexicon/data-model";
import { BACKENDS } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { ADMIN, type TestAccount, newAccount, serverConfig, xrpc } from "./support";

const NUL = "\u0000";
const q = encodeURIComponent;
const post = { $type: "app.bsky.feed.post", text: "hi", createdAt: new Date().toISOString() };

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`bad input on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let alice: TestAccount;

    beforeAll(async () => {
      plc = await startPlc();
      // A body cap far above the commit limit, so only the commit-size check can refuse big writes.
      ctx = await backend.open(serverConfig(plc.url, { service: { maxJsonBodyBytes: 4_000_000 } }));
      alice = await newAccount(ctx, "alice");
      const made = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: { repo: alice.did, collection: "app.bsky.feed.post", record: post } });
      expect(made.status).toBe(200);
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    /** Everything a refused request could have changed. */
    async function snapshot() {
      const db = ctx.db.db();
      const [root, records, passwords, account, seq, invites] = await Promise.all([
        db.selectFrom("repo_root").selectAll().where("did", "=", alice.did).executeTakeFirst(),
        db.selectFrom("record").select(["uri", "cid"]).where("did", "=", alice.did).orderBy("uri").execute(),
        db.selectFrom("app_password").select("name").where("did", "=", alice.did).orderBy("name").execute(),
        db.selectFrom("account").select(["handle", "email"]).where("did", "=", alice.did).executeTakeFirst(),
        db.selectFrom("repo_seq").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
        db.selectFrom("invite_code").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
      ]);
      return { root, records, passwords, account, seq: Number(seq.n), invites: Number(invites.n) };
    }

    async function expectRefused(call: () => Promise<{ status: number; body: any }>, error = "InvalidRequest") {
      const before = await snapshot();
      const res = await call();
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error, message: expect.any(String) });
      expect(await snapshot()).toEqual(before);
      return res.body.message as string;
    }

    // Every string param of the route table that reaches a query, with a NUL byte in it.
    const get = (nsid: string, query: () => string, error?: string) => [nsid, query, error] as const;
    test.each([
      get("com.atproto.repo.getRecord", () => `repo=${alice.did}&collection=${q(`app.bsky.feed.post${NUL}`)}&rkey=abc`),
      get("com.atproto.repo.getRecord", () => `repo=${alice.did}&collection=app.bsky.feed.post&rkey=${q(`ab${NUL}c`)}`),
      get("com.atproto.repo.getRecord", () => `repo=${q(`alice${NUL}.test`)}&collection=app.bsky.feed.post&rkey=abc`),
      get("com.atproto.repo.listRecords", () => `repo=${alice.did}&collection=${q(`app.bsky.feed.post${NUL}`)}`),
      get("com.atproto.repo.listRecords", () => `repo=${alice.did}&collection=app.bsky.feed.post&cursor=${q(`3k${NUL}`)}`),
      get("com.atproto.repo.describeRepo", () => `repo=${q(`${alice.handle}${NUL}`)}`),
      get("com.atproto.identity.resolveHandle", () => `handle=${q(`${alice.handle}${NUL}`)}`, "InvalidHandle"),
      get("com.atproto.sync.getRepo", () => `did=${alice.did}&since=${q(`3k${NUL}`)}`),
      get("com.atproto.sync.getRepo", () => `did=${q(`${alice.did}${NUL}`)}`),
      get("com.atproto.sync.getRecord", () => `did=${alice.did}&collection=app.bsky.feed.post&rkey=${q(`a${NUL}`)}`),
      get("com.atproto.sync.listBlobs", () => `did=${alice.did}&since=${q(`3k${NUL}`)}`),
      get("com.atproto.sync.listBlobs", () => `did=${alice.did}&cursor=${q(`bafy${NUL}`)}`),
      get("com.atproto.sync.getBlob", () => `did=${alice.did}&cid=${q(`bafy${NUL}`)}`),
      get("com.atproto.sync.getBlocks", () => `did=${alice.did}&cids=${q(`bafy${NUL}`)}`),
      get("com.atproto.sync.getRepoStatus", () => `did=${q(`${alice.did}${NUL}`)}`),
      get("com.atproto.sync.listRepos", () => `cursor=${q(`did:plc:${NUL}`)}`),
    ])("GET %s with a NUL byte → 400", async (nsid, query, error) => {
      await expectRefused(() => xrpc(ctx, nsid, { query: query() }), error);
    });

    const record = (fields: object) => ({ repo: alice.did, collection: "app.bsky.feed.post", record: post, ...fields });
    const body = (nsid: string, input: () => object, opts: { auth?: "user" | "admin"; error?: string } = {}) => [nsid, input, opts] as const;
    test.each([
      body("com.atproto.server.createSession", () => ({ identifier: `${alice.handle}${NUL}`, password: alice.password })),
      body("com.atproto.server.createSession", () => ({ identifier: `${alice.handle}@mail${NUL}.test`, password: alice.password })),
      body("com.atproto.server.createAccount", () => ({ handle: `bob${NUL}.test`, email: "bob@mail.test", password: "pw" }), { error: "InvalidHandle" }),
      body("com.atproto.server.createAccount", () => ({ handle: "bobnul.test", email: `bob${NUL}@mail.test`, password: "pw" })),
      body("com.atproto.server.createAccount", () => ({ handle: "bobnul.test", email: "bob@mail.test", password: "pw", inviteCode: `x${NUL}` })),
      body("com.atproto.server.createAppPassword", () => ({ name: `phone${NUL}` }), { auth: "user" }),
      body("com.atproto.server.revokeAppPassword", () => ({ name: `phone${NUL}` }), { auth: "user" }),
      body("com.atproto.server.createInviteCode", () => ({ useCount: 1, forAccount: `did:plc:${NUL}` }), { auth: "admin" }),
      body("com.atproto.server.createInviteCodes", () => ({ codeCount: 1, useCount: 1, forAccounts: [`did:${NUL}`] }), { auth: "admin" }),
      body("com.atproto.identity.updateHandle", () => ({ handle: `alice${NUL}.test` }), { auth: "user", error: "InvalidHandle" }),
      body("com.atproto.repo.createRecord", () => record({ collection: `app.bsky.feed.post${NUL}` }), { auth: "user" }),
      body("com.atproto.repo.createRecord", () => record({ rkey: `a${NUL}` }), { auth: "user" }),
      body("com.atproto.repo.createRecord", () => record({ repo: `alice${NUL}.test` }), { auth: "user" }),
      body("com.atproto.repo.putRecord", () => record({ rkey: `a${NUL}` }), { auth: "user" }),
      body("com.atproto.repo.deleteRecord", () => ({ repo: alice.did, collection: "app.bsky.feed.post", rkey: `a${NUL}` }), { auth: "user" }),
      body("com.atproto.repo.deleteRecord", () => ({ repo: alice.did, collection: "app.bsky.feed.post", rkey: "abc", swapRecord: `b${NUL}` }), { auth: "user" }),
      body(
        "com.atproto.repo.applyWrites",
        () => ({ repo: alice.did, writes: [{ $type: "com.atproto.repo.applyWrites#create", collection: `a.b${NUL}.c`, value: post }] }),
        { auth: "user" },
      ),
      body(
        "com.atproto.repo.applyWrites",
        () => ({ repo: alice.did, writes: [{ $type: "com.atproto.repo.applyWrites#delete", collection: "app.bsky.feed.post", rkey: `x${NUL}` }] }),
        { auth: "user" },
      ),
    ])("POST %s with a NUL byte → 400", async (nsid, input, { auth, error }) => {
      const authorization = auth === "admin" ? ADMIN : auth === "user" ? alice.bearer : undefined;
      await expectRefused(() => xrpc(ctx, nsid, { body: input(), auth: authorization }), error);
    });

    const nested = (depth: number): unknown => {
      let value: unknown = "bottom";
      for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { v: value };
      return value;
    };

    test("a record nested 70,000 levels deep is a 400, not a stack overflow", async () => {
      // Built as text: the server parses it, which is what a hostile client sends.
      const depth = 70_000;
      const text = `{"repo":"${alice.did}","collection":"com.example.deep","record":{"v":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
      const message = await expectRefused(() => xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: text }));
      expect(message).toContain(`at most ${MAX_DATA_DEPTH} levels`);
    });

    test("nesting up to the bound is stored; one level more is refused", async () => {
      const ok = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: record({ collection: "com.example.deep", record: { v: nested(MAX_DATA_DEPTH - 1) } }) });
      expect(ok.status).toBe(200);
      await expectRefused(() => xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: record({ collection: "com.example.deep", record: { v: nested(MAX_DATA_DEPTH) } }) }));
    });

    test("writes whose records exceed one #commit event's 2,000,000 bytes are refused before anything is written", async () => {
      const big = (n: number) => ({ $type: "com.example.big", blob: "x".repeat(n) });
      const writes = [0, 1, 2].map(() => ({ $type: "com.atproto.repo.applyWrites#create", collection: "com.example.big", value: big(700_000) }));
      const message = await expectRefused(() => xrpc(ctx, "com.atproto.repo.applyWrites", { auth: alice.bearer, body: { repo: alice.did, writes } }));
      expect(message).toContain("Commit too large");
      await expectRefused(() => xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: record({ collection: "com.example.big", record: big(2_000_000) }) }));
      // Well under the limit is fine.
      const fits = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: alice.bearer, body: record({ collection: "com.example.big", record: big(1_000_000) }) });
      expect(fits.status).toBe(200);
    });
  });
}
