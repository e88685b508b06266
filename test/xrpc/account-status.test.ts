/**
 * Account status through the whole HTTP surface, on SQLite and PostgreSQL:
 * the verifier refuses a taken-down or deactivated account's tokens where the
 * method needs an active one (writes), lets them through where the reference
 * PDS does (their own session; migration steps while deactivated), refuses a
 * deleted account's; repo.* reads hide such repositories; sync reads serve
 * them only to their owner and the admin. Statuses are set in the database
 * (there is no admin API yet), before the account's tokens are first used.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSessionStore } from "@/auth/sessions";
import { createTokenSigner } from "@/auth/tokens";
import { BACKENDS } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { ADMIN, type Reply, type TestAccount, newAccount, serverConfig, xrpc } from "./support";

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const post = { $type: "app.bsky.feed.post", text: "hi", createdAt: new Date().toISOString() };
const outcome = (res: Reply) => (res.status === 200 ? "ok" : `${res.status} ${res.body.error}`);

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`account status on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    const accounts: Record<"active" | "deactivated" | "takendown" | "deleted", TestAccount & { rkey: string }> = {} as never;

    beforeAll(async () => {
      plc = await startPlc();
      ctx = await backend.open(serverConfig(plc.url));
      for (const status of ["active", "deactivated", "takendown", "deleted"] as const) {
        const account = await newAccount(ctx, status.slice(0, 5));
        const made = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: account.bearer, body: { repo: account.did, collection: "app.bsky.feed.post", record: post } });
        expect(made.status).toBe(200);
        accounts[status] = { ...account, rkey: made.body.uri.split("/").pop() };
      }
      // Fresh sessions, never used before the status changes (a used one may sit in the session cache).
      for (const status of ["active", "deactivated", "takendown", "deleted"] as const) {
        const a = accounts[status];
        const login = await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: a.handle, password: a.password } });
        Object.assign(a, { accessJwt: login.body.accessJwt, refreshJwt: login.body.refreshJwt, bearer: `Bearer ${login.body.accessJwt}` });
      }
      const db = ctx.db.db();
      const now = new Date().toISOString();
      await db.updateTable("account").set({ deactivated_at: now }).where("did", "=", accounts.deactivated.did).execute();
      await db.updateTable("account").set({ takedown_ref: "mod-1" }).where("did", "=", accounts.takendown.did).execute();
      await db.deleteFrom("account").where("did", "=", accounts.deleted.did).execute();
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    // What each account's own access token may do (the reference PDS's checkTakedown / checkDeactivated).
    const calls: Record<string, (a: TestAccount & { rkey: string }) => Promise<Reply>> = {
      createRecord: (a) => xrpc(ctx, "com.atproto.repo.createRecord", { auth: a.bearer, body: { repo: a.did, collection: "app.bsky.feed.post", record: post } }),
      deleteRecord: (a) => xrpc(ctx, "com.atproto.repo.deleteRecord", { auth: a.bearer, body: { repo: a.did, collection: "app.bsky.feed.post", rkey: "3jzfcijpj2z2a" } }),
      uploadBlob: (a) => xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: a.bearer, raw: { type: "image/png", data: PNG } }),
      updateHandle: (a) => xrpc(ctx, "com.atproto.identity.updateHandle", { auth: a.bearer, body: { handle: a.handle } }),
      createAppPassword: (a) => xrpc(ctx, "com.atproto.server.createAppPassword", { auth: a.bearer, body: { name: `p${Math.random()}` } }),
      getSession: (a) => xrpc(ctx, "com.atproto.server.getSession", { auth: a.bearer }),
      listAppPasswords: (a) => xrpc(ctx, "com.atproto.server.listAppPasswords", { auth: a.bearer }),
      ownGetRepo: (a) => xrpc(ctx, "com.atproto.sync.getRepo", { auth: a.bearer, query: `did=${a.did}` }),
      ownGetLatestCommit: (a) => xrpc(ctx, "com.atproto.sync.getLatestCommit", { auth: a.bearer, query: `did=${a.did}` }),
      ownListBlobs: (a) => xrpc(ctx, "com.atproto.sync.listBlobs", { auth: a.bearer, query: `did=${a.did}` }),
      ownSyncGetRecord: (a) => xrpc(ctx, "com.atproto.sync.getRecord", { auth: a.bearer, query: `did=${a.did}&collection=app.bsky.feed.post&rkey=${a.rkey}` }),
    };
    const EXPECTED: Record<string, Record<keyof typeof accounts, string>> = {
      createRecord: { active: "ok", deactivated: "401 AccountDeactivated", takendown: "401 AccountTakedown", deleted: "403 AccountNotFound" },
      deleteRecord: { active: "ok", deactivated: "401 AccountDeactivated", takendown: "401 AccountTakedown", deleted: "403 AccountNotFound" },
      uploadBlob: { active: "ok", deactivated: "ok", takendown: "401 AccountTakedown", deleted: "403 AccountNotFound" },
      updateHandle: { active: "ok", deactivated: "ok", takendown: "401 AccountTakedown", deleted: "403 AccountNotFound" },
      createAppPassword: { active: "ok", deactivated: "ok", takendown: "401 AccountTakedown", deleted: "403 AccountNotFound" },
      getSession: { active: "ok", deactivated: "ok", takendown: "ok", deleted: "403 AccountNotFound" },
      listAppPasswords: { active: "ok", deactivated: "ok", takendown: "ok", deleted: "403 AccountNotFound" },
      ownGetRepo: { active: "ok", deactivated: "ok", takendown: "ok", deleted: "403 AccountNotFound" },
      ownGetLatestCommit: { active: "ok", deactivated: "ok", takendown: "ok", deleted: "403 AccountNotFound" },
      ownListBlobs: { active: "ok", deactivated: "ok", takendown: "ok", deleted: "403 AccountNotFound" },
      ownSyncGetRecord: { active: "ok", deactivated: "ok", takendown: "ok", deleted: "403 AccountNotFound" },
    };
    const cases = Object.entries(EXPECTED).flatMap(([call, row]) => Object.entries(row).map(([status, expected]) => [call, status, expected] as const));
    test.each(cases)("%s by a %s account's own token → %s", async (call, status, expected) => {
      expect(outcome(await calls[call]!(accounts[status as keyof typeof accounts]))).toBe(expected);
    });

    test("getSession reports the status", async () => {
      const session = async (a: TestAccount) => (await xrpc(ctx, "com.atproto.server.getSession", { auth: a.bearer })).body;
      expect(await session(accounts.deactivated)).toMatchObject({ active: false, status: "deactivated" });
      expect(await session(accounts.takendown)).toMatchObject({ active: false, status: "takendown" });
    });

    // What anyone else sees of each repository.
    const reads: Record<string, (a: TestAccount & { rkey: string }, auth?: string) => Promise<Reply>> = {
      getRecord: (a, auth) => xrpc(ctx, "com.atproto.repo.getRecord", { auth, query: `repo=${a.did}&collection=app.bsky.feed.post&rkey=${a.rkey}` }),
      getRecordByHandle: (a, auth) => xrpc(ctx, "com.atproto.repo.getRecord", { auth, query: `repo=${a.handle}&collection=app.bsky.feed.post&rkey=${a.rkey}` }),
      listRecords: (a, auth) => xrpc(ctx, "com.atproto.repo.listRecords", { auth, query: `repo=${a.did}&collection=app.bsky.feed.post` }),
      getRepo: (a, auth) => xrpc(ctx, "com.atproto.sync.getRepo", { auth, query: `did=${a.did}` }),
      getLatestCommit: (a, auth) => xrpc(ctx, "com.atproto.sync.getLatestCommit", { auth, query: `did=${a.did}` }),
      listBlobs: (a, auth) => xrpc(ctx, "com.atproto.sync.listBlobs", { auth, query: `did=${a.did}` }),
      getBlocks: (a, auth) => xrpc(ctx, "com.atproto.sync.getBlocks", { auth, query: `did=${a.did}&cids=bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454` }),
      getBlob: (a, auth) => xrpc(ctx, "com.atproto.sync.getBlob", { auth, query: `did=${a.did}&cid=bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity` }),
    };
    const HIDDEN: Record<string, Record<"deactivated" | "takendown", string>> = {
      getRecord: { deactivated: "400 RecordNotFound", takendown: "400 RecordNotFound" },
      getRecordByHandle: { deactivated: "400 RecordNotFound", takendown: "400 RecordNotFound" },
      listRecords: { deactivated: "400 RepoNotFound", takendown: "400 RepoNotFound" },
      getRepo: { deactivated: "400 RepoDeactivated", takendown: "400 RepoTakendown" },
      getLatestCommit: { deactivated: "400 RepoDeactivated", takendown: "400 RepoTakendown" },
      listBlobs: { deactivated: "400 RepoDeactivated", takendown: "400 RepoTakendown" },
      getBlocks: { deactivated: "400 RepoDeactivated", takendown: "400 RepoTakendown" },
      getBlob: { deactivated: "400 RepoDeactivated", takendown: "400 RepoTakendown" },
    };
    const hiddenCases = Object.entries(HIDDEN).flatMap(([read, row]) => Object.entries(row).map(([status, expected]) => [read, status, expected] as const));
    test.each(hiddenCases)("%s of a %s repository by anyone else → %s", async (read, status, expected) => {
      const target = accounts[status as "deactivated" | "takendown"];
      expect(outcome(await reads[read]!(target))).toBe(expected);
      // Another account's token changes nothing.
      expect(outcome(await reads[read]!(target, accounts.active.bearer))).toBe(expected);
    });

    test("describeRepo names the reason; getRepoStatus tells anyone; the admin reads everything", async () => {
      const describe = (a: TestAccount) => xrpc(ctx, "com.atproto.repo.describeRepo", { query: `repo=${a.did}` });
      expect(outcome(await describe(accounts.deactivated))).toBe("400 RepoDeactivated");
      expect(outcome(await describe(accounts.takendown))).toBe("400 RepoTakendown");
      const status = await xrpc(ctx, "com.atproto.sync.getRepoStatus", { query: `did=${accounts.takendown.did}` });
      expect(status.body).toEqual({ did: accounts.takendown.did, active: false, status: "takendown" });
      for (const a of [accounts.deactivated, accounts.takendown]) {
        expect(outcome(await reads.getRepo!(a, ADMIN))).toBe("ok");
        expect(outcome(await reads.getLatestCommit!(a, ADMIN))).toBe("ok");
      }
      // The active account's records stay readable by anyone.
      expect(outcome(await reads.getRecord!(accounts.active))).toBe("ok");
      expect(outcome(await reads.getRepo!(accounts.active))).toBe("ok");
    });

    test("a status change reaches cached sessions once the changer calls forgetAccount", async () => {
      const fresh = await newAccount(ctx, "later");
      expect(outcome(await calls.getSession!({ ...fresh, rkey: "" }))).toBe("ok");
      await ctx.db.db().updateTable("account").set({ takedown_ref: "mod-2" }).where("did", "=", fresh.did).execute();
      // The server's session cache is ctx.cached; a store over it drops the entries the server reads.
      const store = createSessionStore({
        db: () => ctx.db.db(),
        transaction: (fn) => ctx.db.transaction(fn),
        tokens: createTokenSigner(ctx.config.secrets.jwtSecret, ctx.config.service.did),
        cached: ctx.cached,
        cacheLookups: true,
      });
      await store.forgetAccount(fresh.did);
      expect(outcome(await calls.createRecord!({ ...fresh, rkey: "" }))).toBe("401 AccountTakedown");
    });

    // Last: it logs the taken-down account out.
    test("refreshSession: a deactivated account refreshes, a taken-down one is refused before its token rotates", async () => {
      const refresh = (a: TestAccount) => xrpc(ctx, "com.atproto.server.refreshSession", { body: undefined, auth: `Bearer ${a.refreshJwt}`, raw: { type: "application/json", data: new Uint8Array() } });
      expect(outcome(await refresh(accounts.deactivated))).toBe("ok");
      expect(outcome(await refresh(accounts.takendown))).toBe("401 AccountTakedown");
      const rows = await ctx.db.db().selectFrom("refresh_token").select("next_id").where("did", "=", accounts.takendown.did).execute();
      expect(rows.every((r) => r.next_id === null)).toBe(true);
      // Logging out still works.
      expect(outcome(await xrpc(ctx, "com.atproto.server.deleteSession", { auth: `Bearer ${accounts.takendown.refreshJwt}`, raw: { type: "application/json", data: new Uint8Array() } }))).toBe("ok");
    });
  });
}
