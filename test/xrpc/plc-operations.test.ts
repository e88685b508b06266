/**
 * The PLC-operation methods of account migration, through a listening server
 * with @atproto/api, a real PLC directory and a real SMTP sink, on SQLite +
 * disk and on PostgreSQL + S3. Moving out: a mailed code, an operation signed
 * with the server's rotation key that the directory accepts when the new PDS
 * submits it, and the deactivated owner still reading its repo and blobs.
 * Moving in: submitPlcOperation checks the operation keeps the account served
 * here, then the directory, the firehose and the cached document agree.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import { Secp256k1Keypair } from "@atproto/crypto";
import { readCar } from "@atproto/repo";
import * as plc from "@did-plc/lib";
import { listen, type RunningServer } from "@/http/server";
import { BACKENDS } from "@test/repo/backends";
import { fakePng } from "@test/support/blobs";
import type { TestContext } from "@test/support/context";
import { eventually } from "@test/support/eventually";
import { FirehoseClient } from "@test/support/firehose";
import { type TestPlc, startPlc } from "@test/support/plc";
import { freePort } from "@test/support/services";
import { type SmtpSink, startSmtpSink, tokenIn } from "@test/support/smtp";

const NEW_PDS = "https://new-pds.example";

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`PLC operations on ${backend.name}`, () => {
    let plcServer: TestPlc;
    let directory: plc.Client;
    let smtp: SmtpSink;
    let ctx: TestContext;
    let server: RunningServer;
    let url: string;
    let port: number;
    let rotationKey: Secp256k1Keypair;
    let n = 0;

    beforeAll(async () => {
      [plcServer, smtp, port] = await Promise.all([startPlc(), startSmtpSink(), freePort()]);
      url = `http://localhost:${port}`;
      directory = new plc.Client(plcServer.url);
      ctx = await backend.open({
        log: { level: "warn" },
        identity: { plcUrl: plcServer.url },
        rateLimit: { enabled: false },
        email: { smtpUrl: smtp.url, fromAddress: "pds@localhost" },
        service: { inviteRequired: false, hostname: "localhost", port, publicUrl: url, bind: "127.0.0.1", devMode: true },
      });
      rotationKey = await Secp256k1Keypair.import(ctx.config.secrets.plcRotationKeyHex);
      server = listen(ctx, port);
    });
    afterAll(async () => {
      await server?.shutdown();
      await ctx?.close();
      await backend.dispose();
      await Promise.all([plcServer?.stop(), smtp?.stop()]);
    });

    const signUp = async () => {
      const agent = new AtpAgent({ service: url });
      const handle = `plc${n++}${crypto.randomUUID().slice(0, 6)}.test`;
      const email = `${handle}@mail.test`;
      const password = `pw-${crypto.randomUUID()}`;
      await agent.createAccount({ handle, email, password });
      return { agent, did: agent.session!.did, handle, email, password };
    };
    /** Ask for a code and read it from the mail. */
    const mailedToken = async (agent: AtpAgent, email: string) => {
      const seen = smtp.messages().filter((m) => m.to.includes(email)).length;
      await agent.com.atproto.identity.requestPlcOperationSignature();
      const mail = await smtp.next(email, seen);
      expect(mail.subject).toContain("identity");
      return tokenIn(mail);
    };
    const failure = (p: Promise<unknown>) => p.then(() => ({ status: 200, error: "none", message: "" }), (e) => ({ status: e.status, error: e.error, message: e.message as string }));

    test("moving out: a deactivated owner reads its data, gets a mailed code and an operation the directory accepts from the new PDS", async () => {
      const { agent, did, email } = await signUp();
      const blob = (await agent.uploadBlob(fakePng(200), { encoding: "image/png" })).data.blob;
      await agent.com.atproto.repo.putRecord({ repo: did, collection: "app.bsky.actor.profile", rkey: "self", record: { $type: "app.bsky.actor.profile", avatar: blob } });
      await agent.post({ text: "moving soon" });
      await agent.com.atproto.server.deactivateAccount({});

      // What the new PDS and the migration tool need from the old one, while deactivated.
      const auth = await agent.com.atproto.server.getServiceAuth({ aud: "did:web:new-pds.example", lxm: "com.atproto.server.createAccount" });
      expect(auth.data.token.split(".")).toHaveLength(3);
      const car = await readCar(new Uint8Array((await agent.com.atproto.sync.getRepo({ did })).data));
      expect(car.roots).toHaveLength(1);
      const blobs = await agent.com.atproto.sync.listBlobs({ did });
      expect(blobs.data.cids).toEqual([blob.ref.toString()]);
      const bytes = await agent.com.atproto.sync.getBlob({ did, cid: blob.ref.toString() });
      expect(bytes.data.length).toBe(blob.size);

      const token = await mailedToken(agent, email);
      const newRotation = await Secp256k1Keypair.create();
      const newSigning = await Secp256k1Keypair.create();
      const changes = {
        rotationKeys: [newRotation.did()],
        verificationMethods: { atproto: newSigning.did() },
        services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: NEW_PDS } },
      };
      const wrong = await failure(agent.com.atproto.identity.signPlcOperation({ token: "AAAAA-AAAAA", ...changes }));
      expect([wrong.status, wrong.error]).toEqual([400, "InvalidToken"]);
      const missing = await failure(agent.com.atproto.identity.signPlcOperation(changes));
      expect([missing.status, missing.message]).toEqual([400, "email confirmation token required to sign PLC operations"]);

      const { operation } = (await agent.com.atproto.identity.signPlcOperation({ token, ...changes })).data as { operation: plc.Operation };
      const reused = await failure(agent.com.atproto.identity.signPlcOperation({ token, ...changes }));
      expect([reused.status, reused.error]).toEqual([400, "InvalidToken"]);
      // Signed, not submitted: the directory still names this server until the new PDS sends it.
      expect((await directory.getDocumentData(did)).services.atproto_pds!.endpoint).toBe(url);
      expect(await plc.assureValidSig([rotationKey.did()], operation)).toBe(rotationKey.did());
      expect(operation.alsoKnownAs).toEqual((await directory.getDocumentData(did)).alsoKnownAs);

      await directory.sendOperation(did, operation);
      const data = await directory.getDocumentData(did);
      expect(data).toMatchObject({ rotationKeys: [newRotation.did()], verificationMethods: { atproto: newSigning.did() }, services: changes.services });

      // Our key is gone from the DID: no more signing for it, and nothing is spent on the attempt.
      const again = await mailedToken(agent, email);
      const noKey = await failure(agent.com.atproto.identity.signPlcOperation({ token: again }));
      expect([noKey.status, noKey.message]).toEqual([400, "This server's rotation key is no longer a rotation key of the DID, so it cannot sign for it"]);
      const unspent = await ctx.db.db().selectFrom("email_token").select("purpose").where("did", "=", did).execute();
      expect(unspent).toEqual([{ purpose: "plc_operation" }]);
    });

    test("an expired code is refused; a malformed change is refused before the code is spent", async () => {
      const { agent, did, email } = await signUp();
      const token = await mailedToken(agent, email);
      const badKey = await failure(agent.com.atproto.identity.signPlcOperation({ token, rotationKeys: ["not-a-did-key"] }));
      expect([badKey.status, badKey.error]).toEqual([400, "InvalidRequest"]);
      expect(badKey.message).toStartWith("Invalid PLC operation");
      const badShape = await failure(agent.com.atproto.identity.signPlcOperation({ token, services: { atproto_pds: "nope" } }));
      expect(badShape.status).toBe(400);
      // Still there after both refusals (a spent code would be InvalidToken, not ExpiredToken).
      await ctx.db.db().updateTable("email_token").set({ requested_at: new Date(Date.now() - 16 * 60_000).toISOString() }).where("did", "=", did).execute();
      const expired = await failure(agent.com.atproto.identity.signPlcOperation({ token }));
      expect([expired.status, expired.error]).toEqual([400, "ExpiredToken"]);
    });

    test("an app password can neither ask for a code nor sign", async () => {
      const { agent, handle } = await signUp();
      const { password } = (await agent.com.atproto.server.createAppPassword({ name: "app" })).data;
      const app = new AtpAgent({ service: url });
      await app.login({ identifier: handle, password });
      for (const call of [app.com.atproto.identity.requestPlcOperationSignature(), app.com.atproto.identity.signPlcOperation({ token: "AAAAA-AAAAA" })]) {
        expect((await failure(call)).error).toBe("InvalidToken");
      }
    });

    test("a taken-down account's limited session can still get a code and a signed operation, but not submit one", async () => {
      const { did, handle, email, password } = await signUp();
      await ctx.db.db().updateTable("account").set({ takedown_ref: "mod-1" }).where("did", "=", did).execute();
      const limited = new AtpAgent({ service: url });
      await limited.login({ identifier: handle, password, allowTakendown: true });
      expect(limited.session).toMatchObject({ did, status: "takendown" });
      const token = await mailedToken(limited, email);
      const { operation } = (await limited.com.atproto.identity.signPlcOperation({ token })).data as { operation: plc.Operation };
      expect(await plc.assureValidSig([rotationKey.did()], operation)).toBe(rotationKey.did());
      const submit = await failure(limited.com.atproto.identity.submitPlcOperation({ operation }));
      expect([submit.status, submit.error]).toEqual([400, "InvalidToken"]);
    });

    test("moving in: an operation from the recommended credentials is submitted, announced with #identity, and the cached document refreshed", async () => {
      const { agent, did, handle } = await signUp();
      await agent.com.atproto.server.deactivateAccount({});
      const before = await ctx.identity.resolveDid(did);
      expect(before!.alsoKnownAs).toEqual([`at://${handle}`]);
      const recommended = (await agent.com.atproto.identity.getRecommendedDidCredentials()).data;
      const signing = await ctx.accounts.signingKey(did);
      expect(recommended).toEqual({
        alsoKnownAs: [`at://${handle}`],
        verificationMethods: { atproto: signing.did() },
        rotationKeys: [rotationKey.did()],
        services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: url } },
      });
      // As the old PDS would sign it; here the DID's rotation key is ours, so we sign in the old PDS's place.
      const last = await directory.getLastOp(did);
      const operation = await plc.createUpdateOp(last as plc.CompatibleOp, rotationKey, (prev) => ({
        ...prev,
        ...(recommended as Omit<plc.UnsignedOperation, "prev" | "type">),
        alsoKnownAs: [...recommended.alsoKnownAs!, "at://second.example"],
      }));

      const fh = new FirehoseClient(port);
      await fh.opened;
      try {
        await agent.com.atproto.identity.submitPlcOperation({ operation });
        await eventually(() => fh.frames.some((f) => f.header.t === "#identity" && f.body.did === did), { what: "#identity" });
        expect(fh.frames.find((f) => f.header.t === "#identity" && f.body.did === did)!.body.handle).toBe(handle);
      } finally {
        fh.close();
      }
      expect((await directory.getDocumentData(did)).alsoKnownAs).toEqual([`at://${handle}`, "at://second.example"]);
      expect((await ctx.identity.resolveDid(did))!.alsoKnownAs).toEqual([`at://${handle}`, "at://second.example"]);
    });

    test("submitPlcOperation refuses an operation that would stop this server serving the account, or that the directory refuses", async () => {
      const { agent, did, handle } = await signUp();
      const signing = await ctx.accounts.signingKey(did);
      const other = await Secp256k1Keypair.create();
      const last = (await directory.getLastOp(did)) as plc.CompatibleOp;
      const good = { rotationKeys: [rotationKey.did()], alsoKnownAs: [`at://${handle}`], verificationMethods: { atproto: signing.did() }, services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: url } } };
      const signed = (fields: Partial<typeof good>, key = rotationKey) => plc.createUpdateOp(last, key, (prev) => ({ ...prev, ...good, ...fields }));
      const cases: [string, unknown, string][] = [
        ["not an operation", { hello: "world" }, "Invalid operation"],
        ["without our rotation key", await signed({ rotationKeys: [other.did()] }), "Rotation keys do not include server's rotation key"],
        ["pointing the PDS elsewhere", await signed({ services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: NEW_PDS } } }), "Incorrect endpoint on atproto_pds service"],
        ["with another service type", await signed({ services: { atproto_pds: { type: "Other", endpoint: url } } }), "Incorrect type on atproto_pds service"],
        ["with another signing key", await signed({ verificationMethods: { atproto: other.did() } }), "Incorrect signing key"],
        ["with another handle first", await signed({ alsoKnownAs: ["at://someone.else", `at://${handle}`] }), "Incorrect handle in alsoKnownAs"],
      ];
      for (const [what, operation, message] of cases) {
        const res = await failure(agent.com.atproto.identity.submitPlcOperation({ operation: operation as never }));
        expect([what, res.status, res.error, res.message]).toEqual([what, 400, "InvalidRequest", message]);
      }
      // Passes our checks, but signed by a key that is not a rotation key of the DID.
      const forged = await failure(agent.com.atproto.identity.submitPlcOperation({ operation: (await signed({}, other)) as never }));
      expect([forged.status, forged.message]).toEqual([400, expect.stringMatching(/^PLC directory refused the operation/)]);
      expect((await directory.getLastOp(did)) as unknown).toEqual(last);
    });

    test("did:web accounts have no PLC operations", async () => {
      const did = "did:web:example.com";
      for (const call of [
        ctx.accounts.requestPlcOperationSignature(did),
        ctx.accounts.signPlcOperation(did, { token: "AAAAA-AAAAA" }),
        ctx.accounts.submitPlcOperation(did, {}),
      ]) {
        await expect(call).rejects.toMatchObject({ status: 400, error: "InvalidRequest", message: expect.stringContaining("only for did:plc") });
      }
    });
  });
}
