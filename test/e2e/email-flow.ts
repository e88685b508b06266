/**
 * The email flows with the official client (@atproto/api) against a real
 * listening Aurora, a real PLC directory and a real SMTP server (smtp-server
 * in a child process): every token is read from the mail that arrived.
 * Run by email-sqlite.test.ts and email-postgres.test.ts; with two nodes
 * (PostgreSQL), tokens are requested through one node and used on the other.
 * Tests run in order and build on each other's accounts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type SmtpSink, startSmtpSink, tokenIn } from "@test/support/smtp";
import type { AccountBackend } from "./accounts-flow";
import { type Node, failure, startNode } from "./accounts-support";



const PASSWORD = "correct horse battery staple";

/** `multiNode`: a second node on the same database serves the second half of each flow. */
export function emailFlows(label: string, backend: AccountBackend): void {
  describe(`email flows (${label})`, () => {
    let plc: TestPlc;
    let sink: SmtpSink;
    let a: Node;
    let b: Node;
    /** Mails seen so far per address, so each step waits for the next one. */
    const seen = new Map<string, number>();
    const nextMail = async (to: string) => {
      const mail = await sink.next(to, seen.get(to) ?? 0);
      seen.set(to, (seen.get(to) ?? 0) + 1);
      return mail;
    };
    const agentOn = (node: Node) => new AtpAgent({ service: node.url });
    let alice: AtpAgent;
    let bob: AtpAgent;

    beforeAll(async () => {
      await backend.prepare();
      plc = await startPlc();
      sink = await startSmtpSink();
      const config = { service: { inviteRequired: false }, email: { smtpUrl: sink.url, fromAddress: "noreply@localhost" } };
      const db = backend.db();
      a = await startNode({ plcUrl: plc.url, db, cache: backend.cache?.(), config });
      b = backend.multiNode ? await startNode({ plcUrl: plc.url, db: backend.db(), cache: backend.cache?.(), config }) : a;
      alice = agentOn(a);
      await alice.createAccount({ handle: "alice.test", email: "alice@example.com", password: PASSWORD });
      bob = agentOn(a);
      await bob.createAccount({ handle: "bob.test", email: "bob@example.com", password: PASSWORD });
    });
    afterAll(async () => {
      if (b !== a) await b?.stop();
      await a?.stop();
      await sink?.stop();
      await plc?.stop();
      await backend.dispose();
    });

    test("confirm email: the mailed code confirms the address once, on any node", async () => {
      expect((await alice.com.atproto.server.getSession()).data).toMatchObject({ emailConfirmed: false, emailAuthFactor: false });
      await alice.com.atproto.server.requestEmailConfirmation();
      const mail = await nextMail("alice@example.com");
      expect(mail.subject).toBe("Confirm your email address");
      const token = tokenIn(mail);
      expect(token).toMatch(/^[A-Z2-7]{5}-[A-Z2-7]{5}$/);
      // The rest on the other node (when there is one): the token lives in the shared database.
      const aliceOnB = agentOn(b);
      await aliceOnB.resumeSession(alice.session!);
      expect(await failure(aliceOnB.com.atproto.server.confirmEmail({ email: "other@example.com", token }))).toEqual({ status: 400, error: "InvalidEmail" });
      // Bob's code is no use to Alice, nor a made-up one.
      await bob.com.atproto.server.requestEmailConfirmation();
      const bobToken = tokenIn(await nextMail("bob@example.com"));
      expect(await failure(aliceOnB.com.atproto.server.confirmEmail({ email: "alice@example.com", token: bobToken }))).toEqual({ status: 400, error: "InvalidToken" });
      await aliceOnB.com.atproto.server.confirmEmail({ email: "Alice@Example.com", token: token.toLowerCase() });
      expect((await alice.com.atproto.server.getSession()).data.emailConfirmed).toBe(true);
      expect(await failure(alice.com.atproto.server.confirmEmail({ email: "alice@example.com", token }))).toEqual({ status: 400, error: "InvalidToken" });
      // Bob's own code still works for him.
      await bob.com.atproto.server.confirmEmail({ email: "bob@example.com", token: bobToken });
    });

    test("email update: a confirmed address gets the code and must approve; the new address is unconfirmed and unique", async () => {
      const { data } = await alice.com.atproto.server.requestEmailUpdate();
      expect(data).toEqual({ tokenRequired: true });
      const token = tokenIn(await nextMail("alice@example.com"));
      expect(await failure(alice.com.atproto.server.updateEmail({ email: "alice2@example.com" }))).toEqual({ status: 400, error: "TokenRequired" });
      // A code for another purpose does not open this one.
      await alice.com.atproto.server.requestEmailConfirmation();
      const confirmToken = tokenIn(await nextMail("alice@example.com"));
      expect(await failure(alice.com.atproto.server.updateEmail({ email: "alice2@example.com", token: confirmToken }))).toEqual({ status: 400, error: "InvalidToken" });
      expect(await failure(alice.com.atproto.server.updateEmail({ email: "bob@example.com", token }))).toMatchObject({ status: 400, error: "InvalidRequest" });
      const aliceOnB = agentOn(b);
      await aliceOnB.resumeSession(alice.session!);
      await aliceOnB.com.atproto.server.updateEmail({ email: "alice2@example.com", token });
      expect((await alice.com.atproto.server.getSession()).data).toMatchObject({ email: "alice2@example.com", emailConfirmed: false });
      // A changed address voids the other outstanding codes.
      expect(await failure(alice.com.atproto.server.confirmEmail({ email: "alice2@example.com", token: confirmToken }))).toEqual({ status: 400, error: "InvalidToken" });
      // Unconfirmed: no code needed, and none is mailed.
      expect((await alice.com.atproto.server.requestEmailUpdate()).data).toEqual({ tokenRequired: false });
    });

    test("email two-factor: switched on with a code; log-in then needs the mailed sign-in code", async () => {
      expect(await failure(alice.com.atproto.server.updateEmail({ email: "alice2@example.com", emailAuthFactor: true }))).toMatchObject({ status: 400 });
      await alice.com.atproto.server.requestEmailConfirmation();
      await alice.com.atproto.server.confirmEmail({ email: "alice2@example.com", token: tokenIn(await nextMail("alice2@example.com")) });
      await alice.com.atproto.server.requestEmailUpdate();
      const token = tokenIn(await nextMail("alice2@example.com"));
      await alice.com.atproto.server.updateEmail({ email: "alice2@example.com", emailAuthFactor: true, token });
      expect((await alice.com.atproto.server.getSession()).data).toMatchObject({ email: "alice2@example.com", emailConfirmed: true, emailAuthFactor: true });

      const login = agentOn(a);
      const refused = await a.call("com.atproto.server.createSession", { body: { identifier: "alice.test", password: PASSWORD } });
      expect(refused).toEqual({ status: 401, body: { error: "AuthFactorTokenRequired", message: "A sign in code has been sent to your email address" } });
      const mail = await nextMail("alice2@example.com");
      expect(mail.subject).toBe("Your sign-in code");
      expect(await failure(login.login({ identifier: "alice.test", password: PASSWORD, authFactorToken: "AAAAA-AAAAA" }))).toEqual({ status: 400, error: "InvalidToken" });
      // A wrong password never reaches the code step.
      expect(await failure(login.login({ identifier: "alice.test", password: "wrong", authFactorToken: tokenIn(mail) }))).toEqual({ status: 401, error: "AuthenticationRequired" });
      const loginOnB = agentOn(b);
      const session = await loginOnB.login({ identifier: "alice.test", password: PASSWORD, authFactorToken: tokenIn(mail) });
      expect(session.data).toMatchObject({ did: alice.session!.did, emailAuthFactor: true });
      expect(await failure(agentOn(a).login({ identifier: "alice.test", password: PASSWORD, authFactorToken: tokenIn(mail) }))).toEqual({ status: 400, error: "InvalidToken" });
    });

    test("password reset: same answer for unknown addresses; the code sets the password and ends every session", async () => {
      const unknown = await a.call("com.atproto.server.requestPasswordReset", { body: { email: "nobody@example.com" } });
      const known = await a.call("com.atproto.server.requestPasswordReset", { body: { email: "BOB@example.com" } });
      expect(unknown).toEqual(known);
      expect(known.status).toBe(200);
      const mail = await nextMail("bob@example.com");
      expect(mail.text).toContain("bob.test");
      const token = tokenIn(mail);
      expect(sink.messages().some((m) => m.to.includes("nobody@example.com"))).toBe(false);

      // Bob's sessions: one on each node.
      const bobOnB = agentOn(b);
      await bobOnB.login({ identifier: "bob.test", password: PASSWORD });
      expect(await failure(bob.com.atproto.server.resetPassword({ token: "AAAAA-AAAAA", password: "new password 1" }))).toEqual({ status: 400, error: "InvalidToken" });
      await agentOn(b).com.atproto.server.resetPassword({ token, password: "new password 1" });
      for (const [node, agent] of [[a, bob], [b, bobOnB]] as const) {
        const res = await node.call("com.atproto.server.getSession", { auth: `Bearer ${agent.session!.accessJwt}` });
        expect([res.status, res.body.error]).toEqual([400, "ExpiredToken"]);
        const refresh = await node.call("com.atproto.server.refreshSession", { method: "POST", auth: `Bearer ${agent.session!.refreshJwt}` });
        expect([refresh.status, refresh.body.error]).toEqual([400, "ExpiredToken"]);
      }
      expect(await failure(agentOn(a).login({ identifier: "bob.test", password: PASSWORD }))).toEqual({ status: 401, error: "AuthenticationRequired" });
      await agentOn(a).login({ identifier: "bob.test", password: "new password 1" });
      expect(await failure(agentOn(a).com.atproto.server.resetPassword({ token, password: "new password 2" }))).toEqual({ status: 400, error: "InvalidToken" });
    });

    test("password reset answers as fast for an unknown address as for a known one", async () => {
      const time = async (email: string) => {
        const started = performance.now();
        const res = await a.call("com.atproto.server.requestPasswordReset", { body: { email } });
        expect(res.status).toBe(200);
        return performance.now() - started;
      };
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 15; i++) {
        known.push(await time("bob@example.com"));
        unknown.push(await time(`nobody${i}@example.com`));
      }
      const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
      console.log(`requestPasswordReset median: known ${median(known).toFixed(2)} ms, unknown ${median(unknown).toFixed(2)} ms`);
      expect(Math.abs(median(known) - median(unknown))).toBeLessThan(15);
    });

    test("SMTP down: the API still answers within the bounded wait; the failure is logged", async () => {
      await sink.stop();
      const started = performance.now();
      await alice.com.atproto.server.requestEmailConfirmation();
      expect(performance.now() - started).toBeLessThan(6000);
      const failed = a.ctx.logs.find((l) => l.msg === "email failed" && l.template === "confirm-email");
      expect(failed).toMatchObject({ level: "warn", template: "confirm-email" });
      // The token was still issued: a retry once mail works again gets a fresh one.
      expect(await a.ctx.db.db().selectFrom("email_token").select("purpose").where("did", "=", alice.session!.did).execute()).toContainEqual({ purpose: "confirm_email" });
    });
  });
}
