/**
 * Moderation through a listening server, on SQLite + disk and on PostgreSQL +
 * S3: com.atproto.admin.getSubjectStatus / updateSubjectStatus called with
 * @atproto/api (which checks every answer against the lexicon), by the admin
 * and by the configured moderation service's service auth; every other
 * caller refused. The effects are checked where users and relays see them:
 * repo and sync reads, getBlob and the blob store's quarantine, log-in,
 * refresh, password and OAuth sessions, the firehose's #account events, and
 * the admin log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent, type ComAtprotoAdminUpdateSubjectStatus } from "@atproto/api";
import { lexicons } from "@atproto/api/dist/client/lexicons";
import { readCar } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { recentAdminActions } from "@/admin/log";
import { mintServiceJwt } from "@/auth/service-jwt";
import { listen, type RunningServer } from "@/http/server";
import { BACKENDS } from "@test/repo/backends";
import { fakePng } from "@test/support/blobs";
import type { TestContext } from "@test/support/context";
import { eventually } from "@test/support/eventually";
import { FirehoseClient } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { freePort } from "@test/support/services";
import { TestOAuthClient, dpopKey } from "@test/oauth/kit";
import { ADMIN, type Reply, type TestAccount, newAccount, xrpc } from "@test/xrpc/support";
import { type ServiceIdentity, serviceIdentity } from "./support";

const GET = "com.atproto.admin.getSubjectStatus";
const UPDATE = "com.atproto.admin.updateSubjectStatus";
const outcome = (res: Reply) => (res.status === 200 ? "ok" : `${res.status} ${res.body.error}`);
/** listRecords: how many records it listed, or its refusal. */
const listed = (res: Reply) => (res.status === 200 ? `${res.body.records.length} listed` : outcome(res));
const asAdmin = { headers: { authorization: ADMIN } };
type Input = ComAtprotoAdminUpdateSubjectStatus.InputSchema;

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`moderation on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let server: RunningServer;
    let port: number;
    let mod: ServiceIdentity;
    let stranger: ServiceIdentity;
    let agent: AtpAgent;
    let fh: FirehoseClient;

    beforeAll(async () => {
      [plc, port] = await Promise.all([startPlc(), freePort()]);
      [mod, stranger] = await Promise.all([serviceIdentity(plc.url, "ozone"), serviceIdentity(plc.url, "stranger")]);
      const url = `http://localhost:${port}`;
      ctx = await backend.open(
        {
          log: { level: "warn" },
          identity: { plcUrl: plc.url },
          rateLimit: { enabled: false },
          service: { inviteRequired: false, hostname: "localhost", port, publicUrl: url, bind: "127.0.0.1", devMode: true, modServiceDid: mod.did },
        },
      );
      server = listen(ctx, port);
      agent = new AtpAgent({ service: url });
      fh = new FirehoseClient(port);
      await fh.opened;
    });
    afterAll(async () => {
      fh?.close();
      await server?.shutdown();
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    const update = (input: Input, opts = asAdmin) => agent.com.atproto.admin.updateSubjectStatus(input, { ...opts, encoding: "application/json" });
    const status = (params: { did?: string; uri?: string; blob?: string }) => agent.com.atproto.admin.getSubjectStatus(params, asAdmin);
    const repoRef = (did: string) => ({ $type: "com.atproto.admin.defs#repoRef", did });
    /** The #account frames of `did` seen so far, each valid against the lexicon. */
    const accountEvents = (did: string) =>
      fh.frames
        .filter((f) => f.header.t === "#account" && f.body.did === did)
        .map((f) => {
          expect(lexicons.validate("com.atproto.sync.subscribeRepos#account", f.body)).toMatchObject({ success: true });
          return { active: f.body.active, status: f.body.status };
        });
    /** How many #account events of `did` there are once its sign-up's has arrived. */
    const settled = async (did: string) => {
      await nextAccountEvent(did, 0);
      return accountEvents(did).length;
    };
    const nextAccountEvent = async (did: string, seen: number) => {
      await eventually(() => accountEvents(did).length > seen, { timeoutMs: 5000, what: `#account ${seen + 1} of ${did}` });
      return accountEvents(did)[seen];
    };

    /** An account with a post carrying an image, a warmed-up session and an OAuth session. */
    const member = async (prefix: string) => {
      const account = await newAccount(ctx, prefix);
      const uploaded = await xrpc(ctx, "com.atproto.repo.uploadBlob", { auth: account.bearer, raw: { type: "image/png", data: fakePng(256) } });
      const blob = uploaded.body.blob;
      const record = {
        $type: "app.bsky.feed.post",
        text: "hello",
        createdAt: new Date().toISOString(),
        embed: { $type: "app.bsky.embed.images", images: [{ image: blob, alt: "" }] },
      };
      const made = await xrpc(ctx, "com.atproto.repo.createRecord", { auth: account.bearer, body: { repo: account.did, collection: "app.bsky.feed.post", record } });
      expect(made.status).toBe(200);
      // Used once, so the session sits in the session cache: revocation must reach it there.
      expect((await xrpc(ctx, "com.atproto.server.getSession", { auth: account.bearer })).status).toBe(200);
      const oauth = new TestOAuthClient((r) => ctx.handle(r), "http://localhost", ctx.config.service.publicUrl, await dpopKey());
      const { access } = await oauth.login(account.handle, account.password);
      expect((await oauth.xrpc("com.atproto.server.getSession", access)).status).toBe(200);
      return { ...account, uri: made.body.uri as string, rkey: (made.body.uri as string).split("/").pop()!, cid: blob.ref.$link as string, oauth, oauthAccess: access };
    };

    /** What the world sees of `a`'s repository, by call. */
    const views = async (a: TestAccount & { rkey: string; cid: string }) => {
      const q = `did=${a.did}`;
      const login = await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: a.handle, password: a.password } });
      return {
        getRepo: outcome(await xrpc(ctx, "com.atproto.sync.getRepo", { query: q })),
        getLatestCommit: outcome(await xrpc(ctx, "com.atproto.sync.getLatestCommit", { query: q })),
        syncGetRecord: outcome(await xrpc(ctx, "com.atproto.sync.getRecord", { query: `${q}&collection=app.bsky.feed.post&rkey=${a.rkey}` })),
        getBlob: outcome(await xrpc(ctx, "com.atproto.sync.getBlob", { query: `${q}&cid=${a.cid}` })),
        getRecord: outcome(await xrpc(ctx, "com.atproto.repo.getRecord", { query: `repo=${a.did}&collection=app.bsky.feed.post&rkey=${a.rkey}` })),
        listRecords: listed(await xrpc(ctx, "com.atproto.repo.listRecords", { query: `repo=${a.did}&collection=app.bsky.feed.post` })),
        createSession: outcome(login),
      };
    };
    const SERVED = { getRepo: "ok", getLatestCommit: "ok", syncGetRecord: "ok", getBlob: "ok", getRecord: "ok", listRecords: "1 listed", createSession: "ok" };

    test("an account takedown: nothing served, every session revoked, log-in refused, #account takendown; lifted, all back", async () => {
      const a = await member("down");
      expect(await views(a)).toEqual(SERVED);
      const seen = await settled(a.did);

      const res = await update({ subject: repoRef(a.did), takedown: { applied: true, ref: "case-17" } });
      expect(res.data).toEqual({ subject: repoRef(a.did), takedown: { applied: true, ref: "case-17" } });
      expect(await nextAccountEvent(a.did, seen)).toEqual({ active: false, status: "takendown" });
      expect((await status({ did: a.did })).data).toEqual({ subject: repoRef(a.did), takedown: { applied: true, ref: "case-17" }, deactivated: { applied: false } });

      expect(await views(a)).toEqual({
        getRepo: "400 RepoTakendown",
        getLatestCommit: "400 RepoTakendown",
        syncGetRecord: "400 RepoTakendown",
        getBlob: "400 RepoTakendown",
        getRecord: "400 RecordNotFound",
        listRecords: "400 RepoNotFound",
        createSession: "401 AccountTakedown",
      });
      // The admin still reads the repository.
      expect((await xrpc(ctx, "com.atproto.sync.getRepo", { query: `did=${a.did}`, auth: ADMIN })).status).toBe(200);
      // Sessions from before are gone: the access token (cached), the refresh token, the OAuth session.
      expect(outcome(await xrpc(ctx, "com.atproto.server.getSession", { auth: a.bearer }))).toBe("400 ExpiredToken");
      expect(outcome(await xrpc(ctx, "com.atproto.server.refreshSession", { auth: `Bearer ${a.refreshJwt}`, body: "" }))).toBe("401 AccountTakedown");
      expect((await a.oauth.xrpc("com.atproto.server.getSession", a.oauthAccess)).status).toBe(401);
      expect(await ctx.db.db().selectFrom("refresh_token").select("id").where("did", "=", a.did).execute()).toEqual([]);
      expect(await ctx.db.db().selectFrom("oauth_token").select("id").where("did", "=", a.did).execute()).toEqual([]);

      await update({ subject: repoRef(a.did), takedown: { applied: false } });
      expect(await nextAccountEvent(a.did, seen + 1)).toEqual({ active: true, status: undefined });
      expect(await views(a)).toEqual(SERVED);
      expect((await status({ did: a.did })).data.takedown).toEqual({ applied: false });

      const log = await recentAdminActions(ctx.db.db(), { did: a.did });
      expect(log.map((e) => [e.actor, e.action, e.subjectType, e.subject, e.detail])).toEqual([
        ["admin", "untakedown", "account", a.did, undefined],
        ["admin", "takedown", "account", a.did, { ref: "case-17" }],
      ]);
    });

    test("a takedown without a ref gets the time as its ref; lifting it from a deactivated account leaves it deactivated", async () => {
      const a = await newAccount(ctx, "deact");
      const seen = await settled(a.did);
      await update({ subject: repoRef(a.did), deactivated: { applied: true } });
      expect(await nextAccountEvent(a.did, seen)).toEqual({ active: false, status: "deactivated" });
      await update({ subject: repoRef(a.did), takedown: { applied: true } });
      expect(await nextAccountEvent(a.did, seen + 1)).toEqual({ active: false, status: "takendown" });
      const { takedown, deactivated } = (await status({ did: a.did })).data;
      expect([takedown?.applied, Number.isNaN(Date.parse(takedown?.ref ?? "")), deactivated]).toEqual([true, false, { applied: true }]);

      await update({ subject: repoRef(a.did), takedown: { applied: false } });
      expect(await nextAccountEvent(a.did, seen + 2)).toEqual({ active: false, status: "deactivated" });
      // Activation by the admin checks the DID document like the owner's, then re-announces the account.
      await update({ subject: repoRef(a.did), deactivated: { applied: false } });
      expect(await nextAccountEvent(a.did, seen + 3)).toEqual({ active: true, status: undefined });
      expect((await status({ did: a.did })).data.deactivated).toEqual({ applied: false });
      // Neither field: the current status is announced again, as the reference does.
      await update({ subject: repoRef(a.did) });
      expect(await nextAccountEvent(a.did, seen + 4)).toEqual({ active: true, status: undefined });
      const actions = (await recentAdminActions(ctx.db.db(), { did: a.did })).map((e) => e.action);
      expect(actions).toEqual(["activate", "untakedown", "takedown", "deactivate"]);
    });

    test("a record takedown hides it from repo reads; sync.getRecord still proves it, as in the reference", async () => {
      const a = await member("rec");
      const strongRef = { $type: "com.atproto.repo.strongRef", uri: a.uri, cid: (await ctx.repo.reader.getRecord(a.did, "app.bsky.feed.post", a.rkey))!.cid };
      const res = await update({ subject: strongRef, takedown: { applied: true, ref: "rec-1" } });
      expect(res.data).toEqual({ subject: strongRef, takedown: { applied: true, ref: "rec-1" } });
      expect((await status({ uri: a.uri })).data).toEqual({ subject: strongRef, takedown: { applied: true, ref: "rec-1" } });
      const seen = await views(a);
      expect(seen).toEqual({ ...SERVED, getRecord: "400 RecordNotFound", listRecords: "0 listed" });
      const car = await xrpc(ctx, "com.atproto.sync.getRecord", { query: `did=${a.did}&collection=app.bsky.feed.post&rkey=${a.rkey}` });
      expect((await readCar(car.body)).blocks.has(CID.parse(strongRef.cid))).toBe(true);

      await update({ subject: strongRef, takedown: { applied: false } });
      expect(await views(a)).toEqual(SERVED);
      expect((await status({ uri: a.uri })).data.takedown).toEqual({ applied: false });
      expect((await recentAdminActions(ctx.db.db(), { did: a.did })).map((e) => [e.action, e.subjectType, e.subject])).toEqual([
        ["untakedown", "record", a.uri],
        ["takedown", "record", a.uri],
      ]);
    });

    test("a blob takedown: getBlob answers as for a missing blob, its bytes are quarantined; lifted, served again", async () => {
      const a = await member("blob");
      const blobRef = { $type: "com.atproto.admin.defs#repoBlobRef", did: a.did, cid: a.cid };
      const before = await xrpc(ctx, "com.atproto.sync.getBlob", { query: `did=${a.did}&cid=${a.cid}` });
      await update({ subject: blobRef, takedown: { applied: true, ref: "blob-1" } });
      expect((await status({ did: a.did, blob: a.cid })).data).toEqual({ subject: blobRef, takedown: { applied: true, ref: "blob-1" } });
      expect(outcome(await xrpc(ctx, "com.atproto.sync.getBlob", { query: `did=${a.did}&cid=${a.cid}` }))).toBe("400 BlobNotFound");
      // Not even the owner or the admin gets it through getBlob.
      expect(outcome(await xrpc(ctx, "com.atproto.sync.getBlob", { query: `did=${a.did}&cid=${a.cid}`, auth: ADMIN }))).toBe("400 BlobNotFound");
      expect(await ctx.blobs.stat(a.did, a.cid)).toMatchObject({ quarantined: true });
      expect(await views(a)).toEqual({ ...SERVED, getBlob: "400 BlobNotFound" });

      await update({ subject: blobRef, takedown: { applied: false } });
      expect(await ctx.blobs.stat(a.did, a.cid)).toMatchObject({ quarantined: false });
      const after = await xrpc(ctx, "com.atproto.sync.getBlob", { query: `did=${a.did}&cid=${a.cid}` });
      expect([after.status, Buffer.from(after.body).equals(Buffer.from(before.body))]).toEqual([200, true]);
      expect((await status({ did: a.did, blob: a.cid })).data.takedown).toEqual({ applied: false });
    });

    test("the moderation service's service auth is a moderator; its actions are logged under its DID", async () => {
      const a = await newAccount(ctx, "svc");
      const aud = ctx.config.service.did;
      const res = await update({ subject: repoRef(a.did), takedown: { applied: true, ref: "ozone-1" } }, { headers: { authorization: await mod.bearer(aud, UPDATE) } });
      expect(res.data.takedown).toEqual({ applied: true, ref: "ozone-1" });
      const got = await agent.com.atproto.admin.getSubjectStatus({ did: a.did }, { headers: { authorization: await mod.bearer(aud, GET) } });
      expect(got.data.takedown).toEqual({ applied: true, ref: "ozone-1" });
      expect((await recentAdminActions(ctx.db.db(), { did: a.did }))[0]).toMatchObject({ actor: mod.did, action: "takedown" });
    });

    test("every other caller is refused, and nothing changes", async () => {
      const a = await newAccount(ctx, "guard");
      const aud = ctx.config.service.did;
      const wrongBasic = `Basic ${Buffer.from("admin:not-the-password").toString("base64")}`;
      const ownServiceAuth = async (lxm: string) => `Bearer ${await mintServiceJwt(await ctx.accounts.signingKey(a.did), { iss: a.did, aud, lxm })}`;
      const oauth = new TestOAuthClient((r) => ctx.handle(r), "http://localhost", ctx.config.service.publicUrl, await dpopKey());
      const { access } = await oauth.login(a.handle, a.password);
      const body = { subject: repoRef(a.did), takedown: { applied: true } };
      const callers: Record<string, (nsid: string) => Promise<Reply>> = {
        nobody: (nsid) => xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}` } : { body }),
        "the user's access token": (nsid) => xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}`, auth: a.bearer } : { body, auth: a.bearer }),
        "a wrong admin password": (nsid) => xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}`, auth: wrongBasic } : { body, auth: wrongBasic }),
        "another service's JWT": async (nsid) => {
          const auth = await stranger.bearer(aud, nsid);
          return xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}`, auth } : { body, auth });
        },
        "the user's own service auth": async (nsid) => {
          const auth = await ownServiceAuth(nsid);
          return xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}`, auth } : { body, auth });
        },
        "the moderation service's JWT for another method": async (nsid) => {
          const auth = await mod.bearer(aud, nsid === GET ? UPDATE : GET);
          return xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}`, auth } : { body, auth });
        },
        "the moderation service's JWT for another server": async (nsid) => {
          const auth = await mod.bearer("did:web:elsewhere.example", nsid);
          return xrpc(ctx, nsid, nsid === GET ? { query: `did=${a.did}`, auth } : { body, auth });
        },
        "an OAuth token": (nsid) => (nsid === GET ? oauth.xrpc(nsid, access, { query: `did=${a.did}` }) : oauth.xrpc(nsid, access, { body })),
      };
      const got = Object.fromEntries(
        await Promise.all(Object.entries(callers).map(async ([who, call]) => [who, [outcome(await call(GET)), outcome(await call(UPDATE))]])),
      );
      expect(got).toEqual({
        nobody: ["401 AuthenticationRequired", "401 AuthenticationRequired"],
        "the user's access token": ["401 BadJwtType", "401 BadJwtType"],
        "a wrong admin password": ["401 AuthenticationRequired", "401 AuthenticationRequired"],
        "another service's JWT": ["401 UntrustedIss", "401 UntrustedIss"],
        "the user's own service auth": ["401 UntrustedIss", "401 UntrustedIss"],
        "the moderation service's JWT for another method": ["401 BadJwtLexiconMethod", "401 BadJwtLexiconMethod"],
        "the moderation service's JWT for another server": ["401 BadJwtAudience", "401 BadJwtAudience"],
        "an OAuth token": ["401 AuthenticationRequired", "401 AuthenticationRequired"],
      });
      expect((await status({ did: a.did })).data.takedown).toEqual({ applied: false });
      expect(await recentAdminActions(ctx.db.db(), { did: a.did })).toEqual([]);
    });

    test("bad and missing subjects", async () => {
      const a = await newAccount(ctx, "subj");
      const get = (query: string) => xrpc(ctx, GET, { query, auth: ADMIN });
      expect(outcome(await get(""))).toBe("400 InvalidRequest");
      expect(outcome(await get(`blob=${(await member("cid")).cid}`))).toBe("400 InvalidRequest");
      expect(outcome(await get("did=did:plc:nobodyhereaaaaaaaaaaaaaa"))).toBe("400 NotFound");
      expect(outcome(await get(`uri=${encodeURIComponent(`at://${a.did}/app.bsky.feed.post/3kaaaaaaaaaaa`)}`))).toBe("400 NotFound");
      expect(outcome(await get("uri=not-a-uri"))).toBe("400 InvalidRequest");
      const post = (body: unknown) => xrpc(ctx, UPDATE, { body, auth: ADMIN });
      expect(outcome(await post({ subject: { $type: "com.atproto.admin.defs#nope", did: a.did }, takedown: { applied: true } }))).toBe("400 InvalidRequest");
      expect(outcome(await post({ subject: repoRef(a.did), takedown: { applied: true }, deactivated: { applied: false } }))).toBe("400 InvalidRequest");
      // An account that is not here: answered as given, nothing sequenced or logged.
      const ghost = "did:plc:ghostaaaaaaaaaaaaaaaaaaa";
      expect(await post({ subject: repoRef(ghost), takedown: { applied: true, ref: "x" } })).toEqual({ status: 200, body: { subject: repoRef(ghost), takedown: { applied: true, ref: "x" } } });
      expect(accountEvents(ghost)).toEqual([]);
      expect(await recentAdminActions(ctx.db.db(), { did: ghost })).toEqual([]);
      expect((await status({ did: a.did })).data.takedown).toEqual({ applied: false });
    });
  });
}
