/**
 * Account administration (com.atproto.admin.* account and invite methods,
 * com.atproto.temp.checkSignupQueue) through ctx.handle, on SQLite + disk and
 * PostgreSQL + S3, with a real PLC directory, a real SMTP sink and a
 * firehose subscriber on a listening server: who may call, bad input, and
 * the effect of each change where users and relays see it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ACCOUNT_DID_TABLES } from "@/account/delete";
import { recentAdminActions } from "@/admin/log";
import { listen, type RunningServer } from "@/http/server";
import { BACKENDS } from "@test/repo/backends";
import { fakePng } from "@test/support/blobs";
import type { TestContext } from "@test/support/context";
import { eventually } from "@test/support/eventually";
import { FirehoseClient } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { freePort } from "@test/support/services";
import { type SmtpSink, startSmtpSink } from "@test/support/smtp";
import { ADMIN, type TestAccount, newAccount, serverConfig, xrpc } from "@test/xrpc/support";

/** The methods the moderation service may call too (auth "moderator", as the reference). */
const MODERATOR_METHODS = new Set(
  ["getAccountInfo", "getAccountInfos", "getInviteCodes", "enableAccountInvites", "disableAccountInvites", "disableInviteCodes", "sendEmail"].map((m) => `com.atproto.admin.${m}`),
);
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`account administration on ${backend.name}`, () => {
    let plc: TestPlc;
    let smtp: SmtpSink;
    let ctx: TestContext;
    let server: RunningServer;
    let port: number;

    beforeAll(async () => {
      [plc, smtp, port] = await Promise.all([startPlc(), startSmtpSink(), freePort()]);
      const publicUrl = `http://localhost:${port}`;
      ctx = await backend.open(
        serverConfig(plc.url, {
          log: { level: "warn" },
          email: { smtpUrl: smtp.url, moderationSmtpUrl: smtp.url, fromAddress: "pds@localhost", moderationAddress: "mod@localhost" },
          service: { hostname: "localhost", port, publicUrl, bind: "127.0.0.1", devMode: true },
        }),
      );
      server = listen(ctx, port);
    });
    afterAll(async () => {
      await server?.shutdown();
      await ctx?.close();
      await backend.dispose();
      await Promise.all([plc?.stop(), smtp?.stop()]);
    });

    const admin = (nsid: string, init: { query?: string; body?: unknown } = {}) => xrpc(ctx, nsid, { ...init, auth: ADMIN });
    const info = async (did: string) => (await admin("com.atproto.admin.getAccountInfo", { query: `did=${did}` })).body;
    const login = (identifier: string, password: string) => xrpc(ctx, "com.atproto.server.createSession", { body: { identifier, password } });
    const logOf = (did: string) => recentAdminActions(ctx.db.db(), { did });

    describe("who may call", () => {
      let user: TestAccount;
      beforeAll(async () => {
        user = await newAccount(ctx);
      });
      const calls: [string, { query?: string; body?: unknown }][] = [
        ["com.atproto.admin.getAccountInfo", { query: "did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" }],
        ["com.atproto.admin.getAccountInfos", { query: "dids=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" }],
        ["com.atproto.admin.searchAccounts", {}],
        ["com.atproto.admin.getInviteCodes", {}],
        ["com.atproto.admin.deleteAccount", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" } }],
        ["com.atproto.admin.updateAccountHandle", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", handle: "x.test" } }],
        ["com.atproto.admin.updateAccountEmail", { body: { account: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", email: "a@b.test" } }],
        ["com.atproto.admin.updateAccountPassword", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", password: "x" } }],
        ["com.atproto.admin.enableAccountInvites", { body: { account: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" } }],
        ["com.atproto.admin.disableAccountInvites", { body: { account: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" } }],
        ["com.atproto.admin.disableInviteCodes", { body: { codes: ["x"] } }],
        ["com.atproto.admin.sendEmail", { body: { recipientDid: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", content: "hi", senderDid: "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb" } }],
      ];
      test.each(calls)("%s: no credentials, a user's token, a wrong admin password or user name → 401", async (nsid, init) => {
        const refusals = [undefined, user.bearer, basic("admin", "wrong"), basic("root", "test-admin-password"), basic(user.handle, user.password)];
        for (const auth of refusals) {
          const res = await xrpc(ctx, nsid, { ...init, ...(auth ? { auth } : {}) });
          // Moderator methods read a Bearer token as the moderation service's service auth: a user's token names no trusted issuer.
          const error = auth === user.bearer && MODERATOR_METHODS.has(nsid) ? "UntrustedIss" : "AuthenticationRequired";
          expect({ nsid, auth, status: res.status, error: res.body.error }).toEqual({ nsid, auth, status: 401, error });
        }
      });

      test("checkSignupQueue: activated for any account's token, deactivated too; no token 401, Basic 400", async () => {
        expect(await xrpc(ctx, "com.atproto.temp.checkSignupQueue", { auth: user.bearer })).toEqual({ status: 200, body: { activated: true } });
        expect((await xrpc(ctx, "com.atproto.temp.checkSignupQueue")).status).toBe(401);
        expect((await xrpc(ctx, "com.atproto.temp.checkSignupQueue", { auth: ADMIN })).body.error).toBe("InvalidToken");
        const other = await newAccount(ctx);
        expect((await xrpc(ctx, "com.atproto.server.deactivateAccount", { auth: other.bearer, body: {} })).status).toBe(200);
        expect(await xrpc(ctx, "com.atproto.temp.checkSignupQueue", { auth: other.bearer })).toEqual({ status: 200, body: { activated: true } });
      });
    });

    test.each([
      ["com.atproto.admin.getAccountInfo", { query: "" }, "InvalidRequest"],
      ["com.atproto.admin.getAccountInfo", { query: "did=nope" }, "InvalidRequest"],
      ["com.atproto.admin.getAccountInfo", { query: "did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" }, "NotFound"],
      ["com.atproto.admin.getAccountInfos", { query: "" }, "InvalidRequest"],
      ["com.atproto.admin.searchAccounts", { query: "limit=0" }, "InvalidRequest"],
      ["com.atproto.admin.searchAccounts", { query: "limit=101" }, "InvalidRequest"],
      ["com.atproto.admin.getInviteCodes", { query: "sort=bogus" }, "InvalidRequest"],
      ["com.atproto.admin.getInviteCodes", { query: "cursor=garbage" }, "InvalidRequest"],
      ["com.atproto.admin.getInviteCodes", { query: "limit=501" }, "InvalidRequest"],
      ["com.atproto.admin.deleteAccount", { body: {} }, "InvalidRequest"],
      ["com.atproto.admin.deleteAccount", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" } }, "InvalidRequest"],
      ["com.atproto.admin.updateAccountPassword", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", password: "x".repeat(257) } }, "InvalidRequest"],
      ["com.atproto.admin.updateAccountPassword", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", password: "long-enough" } }, "InvalidRequest"],
      ["com.atproto.admin.updateAccountEmail", { body: { account: "nobody.test", email: "a@b.test" } }, "InvalidRequest"],
      ["com.atproto.admin.updateAccountHandle", { body: { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", handle: "ok-handle.test" } }, "InvalidRequest"],
      ["com.atproto.admin.enableAccountInvites", { body: { account: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" } }, "InvalidRequest"],
      ["com.atproto.admin.disableInviteCodes", { body: { accounts: ["admin"] } }, "InvalidRequest"],
      ["com.atproto.admin.disableInviteCodes", { body: { codes: "not-a-list" } }, "InvalidRequest"],
      ["com.atproto.admin.sendEmail", { body: { recipientDid: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", content: "hi", senderDid: "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb" } }, "InvalidRequest"],
      ["com.atproto.admin.sendEmail", { body: { recipientDid: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", content: "hi" } }, "InvalidRequest"],
    ] as const)("%s %j → 400 %s", async (nsid, init, error) => {
      const res = await admin(nsid, init);
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 400, error });
      expect(typeof res.body.message).toBe("string");
    });

    test("getAccountInfo(s) and searchAccounts: the reference's accountView, invites and inviter included", async () => {
      const inviter = await newAccount(ctx, "inviter");
      const code = (await admin("com.atproto.server.createInviteCode", { body: { useCount: 2, forAccount: inviter.did } })).body.code as string;
      const handle = `inv${crypto.randomUUID().slice(0, 8)}.test`;
      const created = await xrpc(ctx, "com.atproto.server.createAccount", { body: { handle, email: `${handle}@Mail.test`, password: "pw-invited-1", inviteCode: code } });
      expect(created.status).toBe(200);
      const did = created.body.did as string;

      const view = await info(did);
      expect(view).toEqual({
        did,
        handle,
        email: `${handle}@mail.test`,
        indexedAt: expect.any(String),
        invitedBy: { code, available: 2, disabled: false, forAccount: inviter.did, createdBy: "admin", createdAt: expect.any(String), uses: [{ usedBy: did, usedAt: expect.any(String) }] },
        invites: [],
        invitesDisabled: false,
      });
      expect((await info(inviter.did)).invites.map((c: { code: string }) => c.code)).toEqual([code]);

      const infos = await admin("com.atproto.admin.getAccountInfos", { query: `dids=${did}&dids=${inviter.did}&dids=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa` });
      expect(infos.body.infos.map((i: { did: string }) => i.did)).toEqual([did, inviter.did]);

      const byEmail = await admin("com.atproto.admin.searchAccounts", { query: `email=${handle.slice(0, 6).toUpperCase()}` });
      expect(byEmail.body.accounts.map((a: { did: string }) => a.did)).toEqual([did]);
      const byHandle = await admin("com.atproto.admin.searchAccounts", { query: "handle=inviter" });
      expect(byHandle.body.accounts.map((a: { did: string }) => a.did)).toContain(inviter.did);
      expect((await admin("com.atproto.admin.searchAccounts", { query: "email=%25" })).body.accounts).toEqual([]);

      // Every account, one page at a time, each once.
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const res = await admin("com.atproto.admin.searchAccounts", { query: `limit=2${cursor ? `&cursor=${cursor}` : ""}` });
        seen.push(...res.body.accounts.map((a: { did: string }) => a.did));
        cursor = res.body.cursor;
        if (!cursor) break;
      }
      const all = await ctx.db.db().selectFrom("account").select("did").execute();
      expect(seen.sort()).toEqual(all.map((a) => a.did).sort());
    });

    test("invites: disable/enable an account's invites, disable codes by value and by account, list them by recent and by usage", async () => {
      const user = await newAccount(ctx, "codes");
      const made = await admin("com.atproto.server.createInviteCodes", { body: { codeCount: 3, useCount: 1, forAccounts: [user.did] } });
      const codes = made.body.codes[0].codes as string[];

      expect((await admin("com.atproto.admin.disableAccountInvites", { body: { account: user.did, note: "spam" } })).status).toBe(200);
      expect((await info(user.did)).invitesDisabled).toBe(true);
      expect((await admin("com.atproto.admin.enableAccountInvites", { body: { account: user.did } })).status).toBe(200);
      expect((await info(user.did)).invitesDisabled).toBe(false);

      expect((await admin("com.atproto.admin.disableInviteCodes", { body: { codes: [codes[0]] } })).status).toBe(200);
      const after = (await info(user.did)).invites as { code: string; disabled: boolean }[];
      expect(after.filter((c) => c.disabled).map((c) => c.code)).toEqual([codes[0]!]);
      expect((await admin("com.atproto.admin.disableInviteCodes", { body: { accounts: [user.did] } })).status).toBe(200);
      expect(((await info(user.did)).invites as { disabled: boolean }[]).every((c) => c.disabled)).toBe(true);
      const used = await xrpc(ctx, "com.atproto.server.createAccount", { body: { handle: `late${crypto.randomUUID().slice(0, 6)}.test`, email: "late@mail.test", password: "pw-late-12", inviteCode: codes[1] } });
      expect(used.body.error).toBe("InvalidInviteCode");

      const actions = (await logOf(user.did)).map((a) => a.action);
      expect(actions).toEqual(expect.arrayContaining(["disable-invites", "enable-invites", "disable-invite-codes"]));
      expect((await logOf(user.did)).find((a) => a.action === "disable-invites")?.detail).toEqual({ note: "spam" });

      for (const sort of ["recent", "usage"] as const) {
        const pages: { code: string; createdAt: string; uses: unknown[] }[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 100; page++) {
          const res = await admin("com.atproto.admin.getInviteCodes", { query: `sort=${sort}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}` });
          expect(res.status).toBe(200);
          pages.push(...res.body.codes);
          cursor = res.body.cursor;
          if (!cursor) break;
        }
        const total = await ctx.db.db().selectFrom("invite_code").select("code").execute();
        expect(pages.map((c) => c.code).sort()).toEqual(total.map((c) => c.code).sort());
        const keys = pages.map((c) => (sort === "recent" ? c.createdAt : c.uses.length));
        expect(keys).toEqual([...keys].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)));
      }
    });

    test("updateAccountPassword: old password and every old session (password, app password, OAuth) refused, the new password works", async () => {
      const user = await newAccount(ctx, "reset");
      const appPassword = (await xrpc(ctx, "com.atproto.server.createAppPassword", { auth: user.bearer, body: { name: "phone" } })).body.password as string;
      const appSession = (await login(user.handle, appPassword)).body;
      const now = new Date().toISOString();
      await ctx.db.db().insertInto("oauth_token").values({
        id: `tok-${crypto.randomUUID()}`, did: user.did, client_id: "https://client.example/metadata.json", client_auth: "{}", device_id: null,
        parameters: "{}", scope: "atproto", dpop_jkt: "jkt", code: null, refresh_token: "rt", created_at: now, updated_at: now,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      }).execute();
      const [oauth] = await ctx.db.db().selectFrom("oauth_token").select("id").where("did", "=", user.did).execute();
      expect(await ctx.sessions.lookupOAuth(oauth!.id)).not.toBeNull(); // now cached

      expect((await admin("com.atproto.admin.updateAccountPassword", { body: { did: user.did, password: "the-new-password" } })).status).toBe(200);

      for (const token of [user.accessJwt, appSession.accessJwt]) {
        expect((await xrpc(ctx, "com.atproto.server.getSession", { auth: `Bearer ${token}` })).body.error).toBe("ExpiredToken");
      }
      for (const token of [user.refreshJwt, appSession.refreshJwt]) {
        expect((await xrpc(ctx, "com.atproto.server.refreshSession", { auth: `Bearer ${token}`, body: {} })).status).toBe(400);
      }
      expect(await ctx.sessions.lookupOAuth(oauth!.id)).toBeNull();
      expect(await ctx.db.db().selectFrom("oauth_token").select("id").where("did", "=", user.did).execute()).toEqual([]);
      expect((await login(user.handle, user.password)).status).toBe(401);
      const fresh = await login(user.handle, "the-new-password");
      expect(fresh.status).toBe(200);
      expect((await xrpc(ctx, "com.atproto.server.getSession", { auth: `Bearer ${fresh.body.accessJwt}` })).status).toBe(200);
      // As in the reference, the app password itself stays; only its sessions ended.
      expect((await login(user.handle, appPassword)).status).toBe(200);
      const [entry] = await logOf(user.did);
      expect(entry).toMatchObject({ actor: "admin", action: "reset-password", detail: { sessionsRevoked: 2, oauthSessionsRevoked: 1 } });
      expect(JSON.stringify(entry)).not.toContain("the-new-password");
    });

    test("updateAccountHandle: reserved labels allowed for the admin, PLC document, #identity and resolveHandle follow; taken or invalid handles refused", async () => {
      const user = await newAccount(ctx, "rename");
      const other = await newAccount(ctx, "holder");
      const fh = new FirehoseClient(port);
      await fh.opened;
      try {
        expect((await xrpc(ctx, "com.atproto.identity.updateHandle", { auth: user.bearer, body: { handle: "support.test" } })).body.error).toBe("HandleNotAvailable");
        expect((await admin("com.atproto.admin.updateAccountHandle", { body: { did: user.did, handle: "Support.test" } })).status).toBe(200);
        const frame = await eventually(() => fh.frames.find((f) => f.header.t === "#identity" && f.body.did === user.did), { what: "#identity" });
        expect(frame!.body.handle).toBe("support.test");
      } finally {
        fh.close();
      }
      expect((await xrpc(ctx, "com.atproto.identity.resolveHandle", { query: "handle=support.test" })).body).toEqual({ did: user.did });
      expect((await xrpc(ctx, "com.atproto.identity.resolveHandle", { query: `handle=${user.handle}` })).status).toBe(400);
      const doc = (await (await fetch(`${plc.url}/${user.did}`)).json()) as { alsoKnownAs: string[] };
      expect(doc.alsoKnownAs).toEqual(["at://support.test"]);
      expect((await info(user.did)).handle).toBe("support.test");

      expect((await admin("com.atproto.admin.updateAccountHandle", { body: { did: user.did, handle: other.handle } })).body.error).toBe("HandleNotAvailable");
      expect((await admin("com.atproto.admin.updateAccountHandle", { body: { did: user.did, handle: "no spaces.test" } })).body.error).toBe("InvalidHandle");
      expect((await admin("com.atproto.admin.updateAccountHandle", { body: { did: user.did, handle: "a.b.test" } })).body.error).toBe("InvalidHandle");
      expect((await logOf(user.did))[0]).toMatchObject({ action: "update-handle", detail: { handle: "support.test", previousHandle: user.handle } });
    });

    test("updateAccountEmail: by handle, unconfirmed, outstanding tokens void, log-in by the new address; a taken address refused", async () => {
      const user = await newAccount(ctx, "mail");
      const other = await newAccount(ctx, "mailother");
      await ctx.emailTokens.issue(user.did, "confirm_email");
      await ctx.db.db().updateTable("account").set({ email_confirmed_at: new Date().toISOString() }).where("did", "=", user.did).execute();
      expect((await admin("com.atproto.admin.updateAccountEmail", { body: { account: user.handle, email: " New.Address@Mail.test " } })).status).toBe(200);
      const view = await info(user.did);
      expect(view.email).toBe("new.address@mail.test");
      expect(view.emailConfirmedAt).toBeUndefined();
      expect(await ctx.db.db().selectFrom("email_token").select("purpose").where("did", "=", user.did).execute()).toEqual([]);
      expect((await login("new.address@mail.test", user.password)).status).toBe(200);
      const taken = await admin("com.atproto.admin.updateAccountEmail", { body: { account: user.did, email: `${other.handle}@mail.test` } });
      expect(taken.status).toBe(400);
      expect((await admin("com.atproto.admin.updateAccountEmail", { body: { account: user.did, email: "not-an-address" } })).status).toBe(400);
      expect((await logOf(user.did))[0]).toMatchObject({ action: "update-email", detail: { email: "new.address@mail.test" } });
    });

    test("sendEmail: delivered through the moderation transport to the account's address; {sent: true}", async () => {
      const user = await newAccount(ctx, "letter");
      const to = `${user.handle}@mail.test`;
      const res = await admin("com.atproto.admin.sendEmail", {
        body: { recipientDid: user.did, content: "First paragraph.\n\nSecond paragraph.", subject: "About your account", senderDid: "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", comment: "case 7" },
      });
      expect(res).toEqual({ status: 200, body: { sent: true } });
      const mail = await smtp.next(to);
      expect(mail.from).toContain("mod@localhost");
      expect(mail.subject).toBe("About your account");
      expect(mail.text).toContain("Second paragraph.");
      expect((await logOf(user.did))[0]).toMatchObject({ action: "send-email", detail: { subject: "About your account", senderDid: "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb", comment: "case 7" } });

      await admin("com.atproto.admin.sendEmail", { body: { recipientDid: user.did, content: "No subject given.", senderDid: "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb" } });
      expect((await smtp.next(to, 1)).subject).toBe("Message via your PDS");
    });

    test("deleteAccount: rows, repository, blobs and sessions gone; #account deleted on the firehose; logged", async () => {
      const user = await newAccount(ctx, "gone");
      const upload = await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: user.bearer, raw: { type: "image/png", data: fakePng(2048) } });
      expect(upload.status).toBe(200);
      const record = { ...post("with an image"), embed: { $type: "app.bsky.embed.images", images: [{ image: upload.body.blob, alt: "" }] } };
      expect((await xrpc(ctx, "com.atproto.repo.createRecord", { auth: user.bearer, body: { repo: user.did, collection: "app.bsky.feed.post", record } })).status).toBe(200);
      expect((await ctx.blobs.list(user.did)).cids.length).toBe(1);
      const fh = new FirehoseClient(port);
      await fh.opened;
      try {
        expect((await admin("com.atproto.admin.deleteAccount", { body: { did: user.did } })).status).toBe(200);
        const frame = await eventually(() => fh.frames.find((f) => f.header.t === "#account" && f.body.did === user.did), { what: "#account" });
        expect(frame!.body).toMatchObject({ active: false, status: "deleted" });
      } finally {
        fh.close();
      }
      for (const table of ACCOUNT_DID_TABLES) {
        expect({ table, rows: await ctx.db.db().selectFrom(table).select("did").where("did", "=", user.did).execute() }).toEqual({ table, rows: [] });
      }
      expect((await ctx.blobs.list(user.did)).cids).toEqual([]);
      expect((await info(user.did)).error).toBe("NotFound");
      expect((await xrpc(ctx, "com.atproto.server.getSession", { auth: user.bearer })).status).not.toBe(200);
      expect((await login(user.handle, user.password)).status).toBe(401);
      expect((await xrpc(ctx, "com.atproto.sync.getRepo", { query: `did=${user.did}` })).status).toBe(400);
      expect((await admin("com.atproto.admin.deleteAccount", { body: { did: user.did } })).status).toBe(400);
      expect((await logOf(user.did))[0]).toMatchObject({ actor: "admin", action: "delete-account", subject: user.did });
    });
  });
}
