/**
 * The account flows every database backend must pass, with the official
 * client (@atproto/api AtpAgent) against a real listening Aurora and a real
 * PLC directory (@did-plc/server, in memory). Run by
 * test/e2e/accounts-sqlite.test.ts and test/e2e/accounts-postgres.test.ts.
 * Tests run in order and build on each other's accounts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AtpAgent } from "@atproto/api";
import { Secp256k1Keypair } from "@atproto/crypto";
import { verifyCommitSig } from "@atproto/repo";
import * as cbor from "@ipld/dag-cbor";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import { type TestPlc, startPlc } from "@test/support/plc";
import { ADMIN_PASSWORD, type Node, basic, claims, failure, plcData, plcDocument, startNode } from "./accounts-support";
import { registerSessionFlows } from "./accounts-sessions";

export interface AccountBackend {
  db(): DatabasePlugin;
  cache?(): CachePlugin;
  prepare(): Promise<void>;
  dispose(): Promise<void>;
  /** Several nodes can share this database: also prove revocation across nodes. */
  multiNode: boolean;
}

export interface Account {
  did: string;
  handle: string;
  email: string;
  agent: AtpAgent;
}

/** State shared by the flows of one backend. */
export interface Flow {
  plc: TestPlc;
  node: Node;
  backend: AccountBackend;
  alice: Account;
  bob: Account;
  invites: string[];
}

export const PASSWORD = "correct horse battery staple";

export function accountFlows(label: string, backend: AccountBackend): void {
  describe(`accounts e2e (${label})`, () => {
    const flow = { backend } as Flow;

    beforeAll(async () => {
      await backend.prepare();
      flow.plc = await startPlc();
      flow.node = await startNode({ plcUrl: flow.plc.url, db: backend.db(), cache: backend.cache?.() });
    });
    afterAll(async () => {
      await flow.node?.stop();
      await flow.plc?.stop();
      await backend.dispose();
    });

    test("describeServer: invites required, the .test handle domain, the service DID", async () => {
      const { data } = await flow.node.agent().com.atproto.server.describeServer();
      expect(data).toMatchObject({ inviteCodeRequired: true, availableUserDomains: [".test"], did: "did:web:localhost" });
    });

    test("invite codes are made by the admin only (HTTP Basic)", async () => {
      const body = { useCount: 1 };
      for (const auth of [undefined, basic("admin", "wrong-password"), basic("root", ADMIN_PASSWORD)]) {
        const res = await flow.node.call("com.atproto.server.createInviteCode", { body, auth });
        expect([res.status, res.body.error]).toEqual([401, "AuthenticationRequired"]);
      }
      const one = await flow.node.call("com.atproto.server.createInviteCode", { body, auth: basic("admin", ADMIN_PASSWORD) });
      expect(one.status).toBe(200);
      expect(one.body.code).toMatch(/^localhost-[a-z2-7]{5}-[a-z2-7]{5}$/);
      const many = await flow.node.call("com.atproto.server.createInviteCodes", {
        body: { codeCount: 2, useCount: 1 },
        auth: basic("admin", ADMIN_PASSWORD),
      });
      expect(many.status).toBe(200);
      expect(many.body.codes).toHaveLength(1);
      expect(many.body.codes[0].account).toBe("admin");
      flow.invites = [one.body.code, ...many.body.codes[0].codes];
      expect(new Set(flow.invites).size).toBe(3);
    });

    test("sign-up without a usable invite code: 400 InvalidInviteCode", async () => {
      const agent = flow.node.agent();
      const base = { handle: "nocode.test", email: "nocode@example.com", password: PASSWORD };
      expect(await failure(agent.createAccount(base))).toEqual({ status: 400, error: "InvalidInviteCode" });
      expect(await failure(agent.createAccount({ ...base, inviteCode: "localhost-aaaaa-bbbbb" }))).toEqual({ status: 400, error: "InvalidInviteCode" });
    });

    test("two accounts sign up with @atproto/api and get a session and their DID document", async () => {
      const recovery = await Secp256k1Keypair.create();
      const make = async (handle: string, email: string, inviteCode: string, recoveryKey?: string): Promise<Account> => {
        const agent = flow.node.agent();
        const res = await agent.createAccount({ handle, email, password: PASSWORD, inviteCode, recoveryKey });
        expect(res.data.handle).toBe(handle);
        expect(res.data.did).toMatch(/^did:plc:[a-z2-7]{24}$/);
        expect(claims(res.data.accessJwt)).toMatchObject({ sub: res.data.did, aud: "did:web:localhost", scope: "com.atproto.access" });
        expect(claims(res.data.refreshJwt)).toMatchObject({ sub: res.data.did, scope: "com.atproto.refresh" });
        expect(res.data.didDoc).toMatchObject({ id: res.data.did, alsoKnownAs: [`at://${handle}`] });
        // The client follows the endpoint of the DID document: it must be this server.
        expect(agent.pdsUrl?.toString()).toBe(`${flow.node.url}/`);
        expect(agent.session?.did).toBe(res.data.did);
        return { did: res.data.did, handle, email, agent };
      };
      flow.alice = await make("alice.test", "alice@example.com", flow.invites[0]!);
      flow.bob = await make("bob.test", "Bob@Example.com", flow.invites[1]!, recovery.did());
      expect(flow.bob.email).toBe("Bob@Example.com");
      const doc = await plcData(flow.plc.url, flow.bob.did);
      expect(doc.rotationKeys[0]).toBe(recovery.did());
    });

    test("the PLC directory's document names Aurora's endpoint, the signing key and the server's rotation key", async () => {
      const rotationKey = await Secp256k1Keypair.import("5".repeat(64));
      for (const account of [flow.alice, flow.bob]) {
        const data = await plcData(flow.plc.url, account.did);
        const signingKey = await flow.node.ctx.accounts.signingKey(account.did);
        expect(data.verificationMethods).toEqual({ atproto: signingKey.did() });
        expect(data.services).toEqual({ atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: flow.node.url } });
        expect(data.alsoKnownAs).toEqual([`at://${account.handle}`]);
        expect(data.rotationKeys.at(-1)).toBe(rotationKey.did());
        const doc = await plcDocument(flow.plc.url, account.did);
        expect(doc.service).toEqual([{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: flow.node.url }]);
      }
      // Two accounts, two keys; and the database holds them sealed, not in the clear.
      const keys = await Promise.all([flow.alice, flow.bob].map((a) => flow.node.ctx.accounts.signingKey(a.did)));
      expect(keys[0]!.did()).not.toBe(keys[1]!.did());
      const row = await flow.node.ctx.db.db().selectFrom("account").select("signing_key").where("did", "=", flow.alice.did).executeTakeFirstOrThrow();
      const raw = Buffer.from(await (keys[0] as Secp256k1Keypair).export());
      expect(Buffer.from(row.signing_key).includes(raw)).toBe(false);
    });

    test("each account has a repository whose empty commit is signed by its key", async () => {
      for (const account of [flow.alice, flow.bob]) {
        const db = flow.node.ctx.db.db();
        const root = await db.selectFrom("repo_root").selectAll().where("did", "=", account.did).executeTakeFirstOrThrow();
        const block = await db.selectFrom("repo_block").select("content").where("did", "=", account.did).where("cid", "=", root.cid).executeTakeFirstOrThrow();
        const commit = cbor.decode(block.content) as any;
        expect(commit).toMatchObject({ did: account.did, version: 3, rev: root.rev, prev: null });
        const key = await flow.node.ctx.accounts.signingKey(account.did);
        expect(await verifyCommitSig(commit, key.did())).toBe(true);
      }
    });

    test("sign-up refusals: taken handle or email, bad or reserved handles, foreign domains, a used invite", async () => {
      const agent = flow.node.agent();
      const make = async (handle: string, email: string, inviteCode = flow.invites[2]!) =>
        failure(agent.createAccount({ handle, email, password: PASSWORD, inviteCode }));
      expect(await make("ALICE.test", "other@example.com")).toEqual({ status: 400, error: "HandleNotAvailable" });
      expect(await make("admin.test", "other@example.com")).toEqual({ status: 400, error: "HandleNotAvailable" });
      for (const bad of ["al.test", "a-name-of-nineteen-c.test", "alice.smith.test", "-alice.test", "al ice.test", "alice"]) {
        expect(await make(bad, "other@example.com")).toEqual({ status: 400, error: "InvalidHandle" });
      }
      expect(await make("carol.example.com", "other@example.com")).toEqual({ status: 400, error: "UnsupportedDomain" });
      expect(await make("carol.test", "ALICE@example.com")).toEqual({ status: 400, error: "InvalidRequest" });
      expect(await make("carol.test", "other@example.com", flow.invites[0]!)).toEqual({ status: 400, error: "InvalidInviteCode" });
      const accounts = await flow.node.ctx.db.db().selectFrom("account").select("did").execute();
      expect(accounts).toHaveLength(2);
    });

    registerSessionFlows(flow);
  });
}
