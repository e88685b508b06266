/**
 * Every com.atproto.admin.* method of the route table, and
 * com.atproto.temp.checkSignupQueue, called through @atproto/api's typed
 * methods against a listening server on SQLite + disk and PostgreSQL + S3.
 * The client checks each answer against its own lexicons, so a shape it does
 * not expect fails here; each change is then checked by one effect a user
 * sees (resolveHandle, log-in, createAccount with a code, the mail, getRepo).
 * A user's session is refused on every admin method.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { methods } from "@/xrpc";
import { listen, type RunningServer } from "@/http/server";
import { BACKENDS } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { freePort } from "@test/support/services";
import { type SmtpSink, startSmtpSink } from "@test/support/smtp";
import { ADMIN, serverConfig } from "@test/xrpc/support";

const asAdmin = { headers: { authorization: ADMIN } };
const NOBODY = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa";
const MODERATOR = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb";
const repoRef = (did: string) => ({ $type: "com.atproto.admin.defs#repoRef", did });

/** The refusal a call ended in, as "<status> <error>", or "ok". */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (err) {
    const e = err as { status?: number; error?: string; message?: string };
    return `${e.status} ${e.error ?? e.message}`;
  }
}

/** One admin method called through an agent's typed method with the given call options. */
type AdminCall = (agent: AtpAgent, opts: { headers?: Record<string, string> }) => Promise<unknown>;

/** Every admin method, called with harmless arguments (a DID not hosted here): for the refusal check and coverage. */
const ADMIN_CALLS: Record<string, AdminCall> = {
  "com.atproto.admin.deleteAccount": (a, o) => a.com.atproto.admin.deleteAccount({ did: NOBODY }, o),
  "com.atproto.admin.disableAccountInvites": (a, o) => a.com.atproto.admin.disableAccountInvites({ account: NOBODY }, o),
  "com.atproto.admin.disableInviteCodes": (a, o) => a.com.atproto.admin.disableInviteCodes({ codes: ["nope"] }, o),
  "com.atproto.admin.enableAccountInvites": (a, o) => a.com.atproto.admin.enableAccountInvites({ account: NOBODY }, o),
  "com.atproto.admin.getAccountInfo": (a, o) => a.com.atproto.admin.getAccountInfo({ did: NOBODY }, o),
  "com.atproto.admin.getAccountInfos": (a, o) => a.com.atproto.admin.getAccountInfos({ dids: [NOBODY] }, o),
  "com.atproto.admin.getInviteCodes": (a, o) => a.com.atproto.admin.getInviteCodes({}, o),
  "com.atproto.admin.getSubjectStatus": (a, o) => a.com.atproto.admin.getSubjectStatus({ did: NOBODY }, o),
  "com.atproto.admin.searchAccounts": (a, o) => a.com.atproto.admin.searchAccounts({}, o),
  "com.atproto.admin.sendEmail": (a, o) => a.com.atproto.admin.sendEmail({ recipientDid: NOBODY, content: "hi", senderDid: MODERATOR }, o),
  "com.atproto.admin.updateAccountEmail": (a, o) => a.com.atproto.admin.updateAccountEmail({ account: NOBODY, email: "a@b.test" }, o),
  "com.atproto.admin.updateAccountHandle": (a, o) => a.com.atproto.admin.updateAccountHandle({ did: NOBODY, handle: "x.test" }, o),
  "com.atproto.admin.updateAccountPassword": (a, o) => a.com.atproto.admin.updateAccountPassword({ did: NOBODY, password: "x-long-enough" }, o),
  "com.atproto.admin.updateSubjectStatus": (a, o) =>
    a.com.atproto.admin.updateSubjectStatus({ subject: repoRef(NOBODY), takedown: { applied: true } }, { ...o, encoding: "application/json" }),
};

test("every admin method of the route table is called here", () => {
  const routed = Object.keys(methods).filter((nsid) => nsid.startsWith("com.atproto.admin.")).sort();
  expect(Object.keys(ADMIN_CALLS).sort()).toEqual(routed);
  expect(Object.keys(methods)).toContain("com.atproto.temp.checkSignupQueue");
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`admin methods through @atproto/api on ${backend.name}`, () => {
    let plc: TestPlc;
    let smtp: SmtpSink;
    let ctx: TestContext;
    let server: RunningServer;
    let url: string;
    /** The admin's agent: no session, the Basic header on each call. */
    let admin: AtpAgent;

    beforeAll(async () => {
      let port: number;
      [plc, smtp, port] = await Promise.all([startPlc(), startSmtpSink(), freePort()]);
      url = `http://localhost:${port}`;
      ctx = await backend.open(
        serverConfig(plc.url, {
          log: { level: "warn" },
          email: { smtpUrl: smtp.url, moderationSmtpUrl: smtp.url, fromAddress: "pds@localhost", moderationAddress: "mod@localhost" },
          service: { hostname: "localhost", port, publicUrl: url, bind: "127.0.0.1", devMode: true },
        }),
      );
      server = listen(ctx, port);
      admin = new AtpAgent({ service: url });
    });
    afterAll(async () => {
      await server?.shutdown();
      await ctx?.close();
      await backend.dispose();
      await Promise.all([plc?.stop(), smtp?.stop()]);
    });

    /** A new account made through the agent's createAccount; the agent holds its session. */
    const member = async (prefix: string, inviteCode?: string) => {
      const handle = `${prefix}${crypto.randomUUID().slice(0, 8)}.test`;
      const password = `pw-${crypto.randomUUID()}`;
      const agent = new AtpAgent({ service: url });
      const res = await agent.createAccount({ handle, email: `${handle}@mail.test`, password, ...(inviteCode ? { inviteCode } : {}) });
      return { agent, did: res.data.did, handle, email: `${handle}@mail.test`, password };
    };
    /** A log-in on a fresh agent. */
    const login = (identifier: string, password: string) => new AtpAgent({ service: url }).login({ identifier, password });
    const info = async (did: string) => (await admin.com.atproto.admin.getAccountInfo({ did }, asAdmin)).data;

    test("getAccountInfo, getAccountInfos, searchAccounts, getInviteCodes: typed views with the invite that was used", async () => {
      const inviter = await member("inviter");
      const made = await admin.com.atproto.server.createInviteCode({ useCount: 2, forAccount: inviter.did }, asAdmin);
      const code = made.data.code;
      const invited = await member("invited", code);

      const view = await info(invited.did);
      expect(view).toEqual({
        did: invited.did,
        handle: invited.handle,
        email: invited.email,
        indexedAt: expect.any(String),
        invitedBy: { code, available: 2, disabled: false, forAccount: inviter.did, createdBy: "admin", createdAt: expect.any(String), uses: [{ usedBy: invited.did, usedAt: expect.any(String) }] },
        invites: [],
        invitesDisabled: false,
      });
      expect((await info(inviter.did)).invites?.map((c) => c.code)).toEqual([code]);

      const infos = await admin.com.atproto.admin.getAccountInfos({ dids: [invited.did, inviter.did, NOBODY] }, asAdmin);
      expect(infos.data.infos.map((i) => i.did)).toEqual([invited.did, inviter.did]);

      const found = await admin.com.atproto.admin.searchAccounts({ email: invited.email.slice(0, 10) }, asAdmin);
      expect(found.data.accounts.map((a) => a.did)).toEqual([invited.did]);
      const page = await admin.com.atproto.admin.searchAccounts({ limit: 1 }, asAdmin);
      expect([page.data.accounts.length, typeof page.data.cursor]).toEqual([1, "string"]);

      for (const sort of ["recent", "usage"]) {
        const codes = await admin.com.atproto.admin.getInviteCodes({ sort, limit: 500 }, asAdmin);
        expect(codes.data.codes.find((c) => c.code === code)).toEqual({
          code, available: 2, disabled: false, forAccount: inviter.did, createdBy: "admin", createdAt: expect.any(String), uses: [{ usedBy: invited.did, usedAt: expect.any(String) }],
        });
      }
      const first = await admin.com.atproto.admin.getInviteCodes({ limit: 1 }, asAdmin);
      expect(first.data.codes.length).toBe(1);
    });

    test("disableAccountInvites / enableAccountInvites: invitesDisabled follows", async () => {
      const user = await member("invites");
      expect((await admin.com.atproto.admin.disableAccountInvites({ account: user.did, note: "spam" }, asAdmin)).success).toBe(true);
      expect((await info(user.did)).invitesDisabled).toBe(true);
      expect((await admin.com.atproto.admin.enableAccountInvites({ account: user.did, note: "ok again" }, asAdmin)).success).toBe(true);
      expect((await info(user.did)).invitesDisabled).toBe(false);
    });

    test("disableInviteCodes: createAccount with that code refused, the code shown disabled", async () => {
      const code = (await admin.com.atproto.server.createInviteCode({ useCount: 5 }, asAdmin)).data.code;
      expect((await admin.com.atproto.admin.disableInviteCodes({ codes: [code] }, asAdmin)).success).toBe(true);
      expect(await outcome(member("late", code))).toBe("400 InvalidInviteCode");
      const codes = await admin.com.atproto.admin.getInviteCodes({ limit: 500 }, asAdmin);
      expect(codes.data.codes.find((c) => c.code === code)?.disabled).toBe(true);
    });

    test("updateAccountHandle: resolveHandle answers the new handle, the old one no more", async () => {
      const user = await member("rename");
      const handle = `renamed${crypto.randomUUID().slice(0, 8)}.test`;
      expect((await admin.com.atproto.admin.updateAccountHandle({ did: user.did, handle }, asAdmin)).success).toBe(true);
      expect((await admin.resolveHandle({ handle })).data).toEqual({ did: user.did });
      // As the reference PDS: InvalidRequest "Unable to resolve handle" (the lexicon's HandleNotFound is not sent).
      expect(await outcome(admin.resolveHandle({ handle: user.handle }))).toBe("400 InvalidRequest");
      expect((await info(user.did)).handle).toBe(handle);
    });

    test("updateAccountEmail: the account logs in by its new address", async () => {
      const user = await member("mail");
      const email = `new-${user.handle}@mail.test`;
      expect((await admin.com.atproto.admin.updateAccountEmail({ account: user.did, email }, asAdmin)).success).toBe(true);
      expect((await info(user.did)).email).toBe(email);
      expect((await login(email, user.password)).data.did).toBe(user.did);
      expect(await outcome(login(user.email, user.password))).toBe("401 AuthenticationRequired");
    });

    test("updateAccountPassword: the new password logs in on a second agent, the old one is refused", async () => {
      const user = await member("reset");
      expect((await admin.com.atproto.admin.updateAccountPassword({ did: user.did, password: "the-new-password" }, asAdmin)).success).toBe(true);
      const fresh = await login(user.handle, "the-new-password");
      expect(fresh.data.did).toBe(user.did);
      expect(await outcome(login(user.handle, user.password))).toBe("401 AuthenticationRequired");
      // The session the account had before is over.
      expect(await outcome(user.agent.com.atproto.server.getSession())).not.toBe("ok");
    });

    test("sendEmail: {sent: true}, the message at the account's address", async () => {
      const user = await member("letter");
      const res = await admin.com.atproto.admin.sendEmail({ recipientDid: user.did, content: "About your posts.", subject: "A note", senderDid: MODERATOR, comment: "case 1" }, asAdmin);
      expect(res.data).toEqual({ sent: true });
      const mail = await smtp.next(user.email);
      expect([mail.subject, mail.text.includes("About your posts.")]).toEqual(["A note", true]);
    });

    test("updateSubjectStatus / getSubjectStatus: a takedown refuses createSession with AccountTakedown; lifted, log-in works", async () => {
      const user = await member("down");
      const down = await admin.com.atproto.admin.updateSubjectStatus({ subject: repoRef(user.did), takedown: { applied: true, ref: "case-2" } }, { ...asAdmin, encoding: "application/json" });
      expect(down.data).toEqual({ subject: repoRef(user.did), takedown: { applied: true, ref: "case-2" } });
      const status = await admin.com.atproto.admin.getSubjectStatus({ did: user.did }, asAdmin);
      expect(status.data).toEqual({ subject: repoRef(user.did), takedown: { applied: true, ref: "case-2" }, deactivated: { applied: false } });
      expect(await outcome(login(user.handle, user.password))).toBe("401 AccountTakedown");

      await admin.com.atproto.admin.updateSubjectStatus({ subject: repoRef(user.did), takedown: { applied: false } }, { ...asAdmin, encoding: "application/json" });
      expect((await login(user.handle, user.password)).data.did).toBe(user.did);
    });

    test("deleteAccount: getRepo answers RepoNotFound, getAccountInfo NotFound", async () => {
      const user = await member("gone");
      expect((await admin.com.atproto.sync.getRepo({ did: user.did })).success).toBe(true);
      expect((await admin.com.atproto.admin.deleteAccount({ did: user.did }, asAdmin)).success).toBe(true);
      expect(await outcome(admin.com.atproto.sync.getRepo({ did: user.did }))).toBe("400 RepoNotFound");
      expect(await outcome(info(user.did))).toBe("400 NotFound");
    });

    test("checkSignupQueue: {activated: true} for a user's session; the admin's Basic header is no session", async () => {
      const user = await member("queue");
      expect((await user.agent.com.atproto.temp.checkSignupQueue()).data).toEqual({ activated: true });
      expect(await outcome(admin.com.atproto.temp.checkSignupQueue(undefined, asAdmin))).toBe("400 InvalidToken");
    });

    test("a user's session is refused on every admin method, and nothing changes", async () => {
      const user = await member("guard");
      const got: Record<string, string> = {};
      for (const [nsid, call] of Object.entries(ADMIN_CALLS)) got[nsid] = await outcome(call(user.agent, {}));
      // Moderator methods read a Bearer token as the moderation service's service auth: a user's token names no trusted issuer.
      const moderatorMode = (nsid: string) => (methods as Record<string, { auth?: string }>)[nsid]?.auth === "moderator";
      expect(got).toEqual(Object.fromEntries(Object.keys(ADMIN_CALLS).map((nsid) => [nsid, moderatorMode(nsid) ? "401 UntrustedIss" : "401 AuthenticationRequired"])));
      expect((await info(user.did)).handle).toBe(user.handle);
      expect((await user.agent.com.atproto.server.getSession()).data.did).toBe(user.did);
    });
  });
}
