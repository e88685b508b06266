/**
 * Deactivation, activation, checkAccountStatus and deletion through a
 * listening server with @atproto/api, a real PLC directory, a real SMTP sink
 * and a firehose subscriber, on SQLite + disk and on PostgreSQL + S3 + Redis.
 * After deleteAccount the database (every table with a `did` column, found
 * by introspection), the blob store (its files or objects, listed directly)
 * and Redis (its keys) are checked to hold nothing of the account.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { AtpAgent } from "@atproto/api";
import { lexicons } from "@atproto/api/dist/client/lexicons";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { readCar } from "@atproto/repo";
import Redis from "ioredis";
import { ACCOUNT_DID_TABLES, KEPT_DID_TABLES } from "@/account/delete";
import { listen, type RunningServer } from "@/http/server";
import { redis } from "@plugins/cache-redis";
import { BACKENDS } from "@test/repo/backends";
import { fakePng } from "@test/support/blobs";
import type { TestContext } from "@test/support/context";
import { eventually } from "@test/support/eventually";
import { FirehoseClient } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { S3_CREDENTIALS, freePort } from "@test/support/services";
import { type SmtpSink, startSmtpSink, tokenIn } from "@test/support/smtp";

const post = (text: string) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString() });

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  const redisUrl = backend.name.startsWith("postgres") ? process.env.AURORA_TEST_REDIS_URL : undefined;
  const redisPrefix = `aurora-lifecycle-${crypto.randomUUID().slice(0, 8)}:`;
  describe(`account lifecycle on ${backend.name}${redisUrl ? " + redis" : ""}`, () => {
    let plc: TestPlc;
    let smtp: SmtpSink;
    let ctx: TestContext;
    let server: RunningServer;
    let url: string;
    let port: number;
    let n = 0;

    beforeAll(async () => {
      [plc, smtp, port] = await Promise.all([startPlc(), startSmtpSink(), freePort()]);
      url = `http://localhost:${port}`;
      ctx = await backend.open(
        {
          log: { level: "warn" },
          identity: { plcUrl: plc.url },
          // With Redis the limits are on and distributed, so their counters naming the account are in Redis too.
          ...(redisUrl ? { cache: redis({ url: redisUrl, keyPrefix: redisPrefix }), rateLimit: { distributed: true } } : { rateLimit: { enabled: false } }),
          email: { smtpUrl: smtp.url, fromAddress: "pds@localhost" },
          service: { inviteRequired: false, hostname: "localhost", port, publicUrl: url, bind: "127.0.0.1", devMode: true },
        },
      );
      server = listen(ctx, port);
    });
    afterAll(async () => {
      await server?.shutdown();
      await ctx?.close();
      await backend.dispose();
      await Promise.all([plc?.stop(), smtp?.stop()]);
    });

    const signUp = async () => {
      const agent = new AtpAgent({ service: url });
      const handle = `life${n++}${crypto.randomUUID().slice(0, 6)}.test`;
      const password = `pw-${crypto.randomUUID()}`;
      await agent.createAccount({ handle, email: `${handle}@mail.test`, password });
      return { agent, did: agent.session!.did, handle, email: `${handle}@mail.test`, password };
    };
    /** The account's frames, each checked against its subscribeRepos message definition first. */
    const accountFrames = (fh: FirehoseClient, did: string) => {
      const frames = fh.frames.filter((f) => f.body.did === did || f.body.repo === did);
      for (const f of frames) expect(lexicons.validate(`com.atproto.sync.subscribeRepos${f.header.t}`, f.body)).toMatchObject({ success: true });
      return frames;
    };

    test("deactivate: #account deactivated, writes refused, sync reads only for the owner; activate re-announces", async () => {
      const { agent, did } = await signUp();
      await agent.post({ text: "before" });
      const fh = new FirehoseClient(port);
      await fh.opened;
      try {
        await agent.com.atproto.server.deactivateAccount({});
        await eventually(() => accountFrames(fh, did).some((f) => f.header.t === "#account"), { what: "#account deactivated" });
        expect(accountFrames(fh, did).find((f) => f.header.t === "#account")!.body).toMatchObject({ did, active: false, status: "deactivated" });

        const write = await fetch(`${url}/xrpc/com.atproto.repo.createRecord`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${agent.session!.accessJwt}` },
          body: JSON.stringify({ repo: did, collection: "app.bsky.feed.post", record: post("while deactivated") }),
        });
        expect([write.status, ((await write.json()) as { error: string }).error]).toEqual([401, "AccountDeactivated"]);
        const anonymous = await fetch(`${url}/xrpc/com.atproto.sync.getLatestCommit?did=${did}`);
        expect([anonymous.status, ((await anonymous.json()) as { error: string }).error]).toEqual([400, "RepoDeactivated"]);
        const other = await signUp();
        const byOther = await other.agent.com.atproto.sync.getLatestCommit({ did }).catch((e) => e);
        expect(byOther.error).toBe("RepoDeactivated");
        const own = await agent.com.atproto.sync.getLatestCommit({ did });
        const status = await agent.com.atproto.server.checkAccountStatus();
        expect(status.data).toMatchObject({ activated: false, validDid: true, repoCommit: own.data.cid, repoRev: own.data.rev });
        const session = await agent.com.atproto.server.getSession();
        expect(session.data).toMatchObject({ active: false, status: "deactivated" });

        const before = accountFrames(fh, did).length;
        await agent.com.atproto.server.activateAccount();
        await eventually(() => accountFrames(fh, did).length >= before + 3, { what: "#identity, #account, #sync after activation" });
        const [identity, account, sync] = accountFrames(fh, did).slice(before);
        expect(identity!.header.t).toBe("#identity");
        expect(identity!.body.handle).toBe(agent.session!.handle);
        expect([account!.header.t, account!.body.active, account!.body.status]).toEqual(["#account", true, undefined]);
        expect([sync!.header.t, sync!.body.rev]).toEqual(["#sync", own.data.rev]);
        const car = await readCar(sync!.body.blocks as Uint8Array);
        expect(car.roots.map(String)).toEqual([own.data.cid]);
        expect(car.blocks.size).toBe(1);
        await agent.post({ text: "after" });
        expect((await agent.com.atproto.server.checkAccountStatus()).data.activated).toBe(true);
      } finally {
        fh.close();
      }
    });

    test("checkAccountStatus counts the repository's blocks, records and blobs", async () => {
      const { agent, did } = await signUp();
      const image = await agent.uploadBlob(fakePng(300), { encoding: "image/png" });
      await agent.uploadBlob(fakePng(400), { encoding: "image/png" }); // never referenced: imported, not expected
      await agent.post({ text: "one", embed: { $type: "app.bsky.embed.images", images: [{ image: image.data.blob, alt: "" }] } });
      await agent.post({ text: "two" });
      await agent.post({ text: "three", embed: { $type: "app.bsky.embed.images", images: [{ image: image.data.blob, alt: "again" }] } });
      const repo = await readCar(new Uint8Array((await agent.com.atproto.sync.getRepo({ did })).data));
      const latest = await agent.com.atproto.sync.getLatestCommit({ did });
      const { data } = await agent.com.atproto.server.checkAccountStatus();
      expect(data).toEqual({
        activated: true,
        validDid: true,
        repoCommit: latest.data.cid,
        repoRev: latest.data.rev,
        repoBlocks: repo.blocks.size,
        indexedRecords: 3,
        privateStateValues: 0,
        expectedBlobs: 1,
        importedBlobs: 2,
      });
    });

    test("deleteAccount removes everything of the account; relays see #account deleted; handle and email are free", async () => {
      const { agent, did, handle, email, password } = await signUp();
      const image = await agent.uploadBlob(fakePng(500), { encoding: "image/png" });
      await agent.post({ text: "with image", embed: { $type: "app.bsky.embed.images", images: [{ image: image.data.blob, alt: "" }] } });
      await agent.uploadBlob(fakePng(600), { encoding: "image/png" }); // stays a temp blob
      await agent.com.atproto.server.createAppPassword({ name: "phone" });
      await agent.app.bsky.actor.putPreferences({ preferences: [{ $type: "app.bsky.actor.defs#adultContentPref", enabled: false }] });
      await agent.app.bsky.actor.getPreferences(); // a cached session, and Redis keys of the account
      const db = ctx.db.db();
      await db.insertInto("invite_code").values({ code: `inv-${did.slice(8)}`, available_uses: 1, for_account: did, created_by: "admin", created_at: new Date().toISOString() }).execute();
      const tempKeys = (await db.selectFrom("blob").select("temp_key").where("did", "=", did).execute()).flatMap((b) => (b.temp_key ? [b.temp_key] : []));
      const blobCids = (await db.selectFrom("blob").select("cid").where("did", "=", did).execute()).map((b) => b.cid);
      expect([tempKeys.length, blobCids.length]).toEqual([1, 2]);
      expect(await storedNames(did, tempKeys)).not.toEqual([]);

      if (redisUrl) expect((await redisNaming(did)).length).toBeGreaterThan(0);
      const fh = new FirehoseClient(port);
      await fh.opened;
      try {
        const seen = smtp.messages().filter((m) => m.to.includes(email)).length;
        await agent.com.atproto.server.requestAccountDelete();
        const token = tokenIn(await smtp.next(email, seen));
        const wrongToken = await agent.com.atproto.server.deleteAccount({ did, password, token: "AAAAA-AAAAA" }).catch((e) => e);
        expect(wrongToken.error).toBe("InvalidToken");
        const wrongPassword = await agent.com.atproto.server.deleteAccount({ did, password: "nope", token }).catch((e) => e);
        expect([wrongPassword.status, wrongPassword.error]).toEqual([401, "AuthenticationRequired"]);
        await agent.com.atproto.server.deleteAccount({ did, password, token });
        await eventually(() => accountFrames(fh, did).some((f) => f.header.t === "#account"), { what: "#account deleted" });
        expect(accountFrames(fh, did).map((f) => [f.header.t, f.body.active, f.body.status])).toEqual([["#account", false, "deleted"]]);
        // A consumer replaying from the start (served from the node's memory) gets that event alone for the account.
        const replay = new FirehoseClient(port, 0);
        try {
          await replay.waitForSeq(accountFrames(fh, did)[0]!.body.seq as number);
          expect(accountFrames(replay, did).map((f) => [f.header.t, f.body.status])).toEqual([["#account", "deleted"]]);
        } finally {
          replay.close();
        }
      } finally {
        fh.close();
      }

      // The database: every table with a did column holds nothing of the account but its tombstone and the event.
      for (const table of await didTables()) {
        const rows = await db.selectFrom(table as "account").select("did").where("did", "=", did).execute();
        const expected = table === "repo_seq" || table === "deleted_account" ? 1 : 0;
        expect({ table, rows: rows.length }).toEqual({ table, rows: expected });
      }
      expect(await db.selectFrom("invite_code").select("code").where("for_account", "=", did).execute()).toEqual([]);
      expect(await db.selectFrom("invite_code_use").select("code").where("used_by", "=", did).execute()).toEqual([]);
      // The blob store, listed past the plugin: no file or object names the account, its blobs or its temp upload.
      expect(await storedNames(did, [...tempKeys, ...blobCids])).toEqual([]);
      expect((await ctx.blobs.list(did)).cids).toEqual([]);
      if (redisUrl) expect(await redisNaming(did)).toEqual([]);
      // The old session is gone everywhere; the handle and email are free for a new account (a new DID).
      const old = await agent.com.atproto.server.getSession().catch((e) => e);
      expect(old.status).toBeGreaterThanOrEqual(400);
      const again = new AtpAgent({ service: url });
      await again.createAccount({ handle, email, password });
      expect(again.session!.did).not.toBe(did);
      const gone = await again.com.atproto.sync.getLatestCommit({ did }).catch((e) => e);
      expect(gone.error).toBe("RepoNotFound");
    });

    test("allowTakendown: a taken-down account logs in only with it, by its password, into a limited session", async () => {
      const { agent, did, handle, password } = await signUp();
      const appPassword = (await agent.com.atproto.server.createAppPassword({ name: "app" })).data.password;
      await ctx.db.db().updateTable("account").set({ takedown_ref: "mod-7" }).where("did", "=", did).execute();
      const login = (body: Record<string, unknown>) =>
        fetch(`${url}/xrpc/com.atproto.server.createSession`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      expect((await login({ identifier: handle, password })).body.error).toBe("AccountTakedown");
      const byAppPassword = await login({ identifier: handle, password: appPassword, allowTakendown: true });
      expect([byAppPassword.status, byAppPassword.body.error]).toEqual([401, "AuthenticationRequired"]);
      const limited = await login({ identifier: handle, password, allowTakendown: true });
      expect(limited.status).toBe(200);
      expect(limited.body).toMatchObject({ did, active: false, status: "takendown" });
      const call = (nsid: string, init: { body?: unknown; query?: string; token?: string } = {}) =>
        fetch(`${url}/xrpc/${nsid}${init.query ? `?${init.query}` : ""}`, {
          method: init.body === undefined ? "GET" : "POST",
          headers: { authorization: `Bearer ${init.token ?? limited.body.accessJwt}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        }).then(async (r) => `${r.status} ${r.status === 200 ? "ok" : ((await r.json()) as any).error}`);
      expect({
        getPreferences: await call("app.bsky.actor.getPreferences"),
        serviceAuthToMoveOut: await call("com.atproto.server.getServiceAuth", { query: `aud=did:web:other.test&lxm=com.atproto.server.createAccount` }),
        serviceAuthOther: await call("com.atproto.server.getServiceAuth", { query: `aud=did:web:other.test&lxm=app.bsky.feed.getTimeline` }),
        getSession: await call("com.atproto.server.getSession"),
        createRecord: await call("com.atproto.repo.createRecord", { body: { repo: did, collection: "app.bsky.feed.post", record: post("x") } }),
        checkAccountStatus: await call("com.atproto.server.checkAccountStatus"),
        refreshSession: await call("com.atproto.server.refreshSession", { body: {}, token: limited.body.refreshJwt }),
      }).toEqual({
        getPreferences: "200 ok",
        serviceAuthToMoveOut: "200 ok",
        serviceAuthOther: "400 InvalidToken",
        getSession: "400 InvalidToken",
        createRecord: "400 InvalidToken",
        checkAccountStatus: "400 InvalidToken",
        refreshSession: "401 AccountTakedown",
      });
      const fh = new FirehoseClient(port);
      await fh.opened;
      try {
        expect(await call("com.atproto.server.deactivateAccount", { body: {} })).toBe("200 ok");
        await eventually(() => accountFrames(fh, did).some((f) => f.header.t === "#account"), { what: "#account" });
        // Takedown outranks deactivation: relays keep hearing takendown.
        expect(accountFrames(fh, did)[0]!.body).toMatchObject({ active: false, status: "takendown" });
      } finally {
        fh.close();
      }
      // Its refresh token names no stored session: even with the takedown lifted it never becomes a full session.
      await ctx.db.db().updateTable("account").set({ takedown_ref: null }).where("did", "=", did).execute();
      expect(await call("com.atproto.server.refreshSession", { body: {}, token: limited.body.refreshJwt })).toBe("400 ExpiredToken");
    });

    test("every table with a did column is deleted or kept on purpose", async () => {
      expect((await didTables()).sort()).toEqual([...ACCOUNT_DID_TABLES, ...KEPT_DID_TABLES].sort());
    });

    /** Keys under this server's Redis prefix whose name or (string) value contains `did`. */
    async function redisNaming(did: string): Promise<string[]> {
      const client = new Redis(redisUrl!);
      try {
        const keys = await client.keys(`${redisPrefix}*`);
        const values = await Promise.all(keys.map(async (k) => ((await client.type(k)) === "string" ? ((await client.get(k)) ?? "") : "")));
        return keys.filter((k, i) => k.includes(did) || values[i]!.includes(did));
      } finally {
        client.disconnect();
      }
    }

    /** Tables of the live database with a `did` column, by introspection (not from our own list). */
    async function didTables(): Promise<string[]> {
      const tables = await ctx.db.db().introspection.getTables();
      return tables.filter((t) => t.columns.some((c) => c.name === "did")).map((t) => t.name);
    }

    /** Blob-store file paths or object keys naming the DID or any of `names`. */
    async function storedNames(did: string, names: string[]): Promise<string[]> {
      const all: string[] = [];
      if (backend.name.startsWith("postgres")) {
        const s3 = new S3Client({ endpoint: process.env.AURORA_TEST_S3_ENDPOINT, region: "us-east-1", forcePathStyle: true, credentials: S3_CREDENTIALS });
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: process.env.AURORA_TEST_S3_BUCKET, ContinuationToken: token }));
          all.push(...(page.Contents ?? []).map((o) => o.Key!));
          token = page.NextContinuationToken;
        } while (token);
        s3.destroy();
      } else {
        all.push(...(readdirSync(ctx.config.dataDir, { recursive: true }) as string[]).map((p) => join(ctx.config.dataDir, p)));
      }
      return all.filter((p) => p.includes(did) || p.includes(did.replaceAll(":", "_")) || names.some((name) => p.includes(name)));
    }
  });
}
