import { afterAll, beforeAll, expect, test } from "bun:test";
import { Secp256k1Keypair } from "@atproto/crypto";
import { createSessionStore } from "@/auth/sessions";
import { createTokenSigner } from "@/auth/tokens";
import type { PlcClient } from "@/identity/plc";
import { type TestContext, testContext } from "@test/support/context";
import { createAccount } from "./create";
import { deleteAccountData } from "./delete";
import type { AccountDeps } from "./deps";
import { createSigningKeyVault } from "./signing-keys";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext({ service: { inviteRequired: false } });
});
afterAll(() => ctx?.close());

test("createAccount refuses a DID that was deleted here, before anything of it is stored", async () => {
  const did = "did:plc:deletedaaaaaaaaaaaaaaaaa";
  await ctx.db.db().insertInto("deleted_account").values({ did, deleted_at: new Date().toISOString() }).execute();
  // A directory that hands out the deleted DID again: only a bug or a migration could, and the tombstone still holds.
  const plc = { url: "http://plc.invalid", createDid: async () => did } as unknown as PlcClient;
  const deps: AccountDeps = {
    config: ctx.config,
    db: ctx.db,
    identity: ctx.identity,
    plc,
    rotationKey: await Secp256k1Keypair.create({ exportable: true }),
    vault: createSigningKeyVault("a".repeat(64)),
    reservedKeys: ctx.reservedKeys,
    sessions: createSessionStore({
      db: () => ctx.db.db(),
      transaction: (fn) => ctx.db.transaction(fn),
      tokens: createTokenSigner("test-jwt-secret-0123456789", ctx.config.service.did),
      cached: ctx.cached,
      cacheLookups: true,
    }),
    mailer: ctx.mailer,
    emailTokens: ctx.emailTokens,
    sequencer: ctx.sequencer,
    log: ctx.log,
    rateLimits: ctx.rateLimits,
  };
  const refused = await createAccount(deps, { handle: "again.test", email: "again@mail.test", password: "pw-again" }).catch((e) => e);
  expect([refused.status, refused.error, refused.message]).toEqual([400, "InvalidRequest", `This DID was deleted from this server: ${did}`]);
  expect(await ctx.db.db().selectFrom("account").select("did").where("did", "=", did).execute()).toEqual([]);
  expect(await ctx.db.db().selectFrom("repo_root").select("did").where("did", "=", did).execute()).toEqual([]);
});

test("a blob store failing after the commit leaves the account deleted and says so in the log", async () => {
  const did = "did:plc:blobsdownaaaaaaaaaaaaaaa";
  const now = new Date().toISOString();
  await ctx.db.db().insertInto("account").values({ did, handle: "down.test", email: null, email_confirmed_at: null, password_hash: null, signing_key: new Uint8Array(1), created_at: now, deactivated_at: null, delete_after: null, takedown_ref: null }).execute();
  await ctx.db.db().insertInto("blob").values({ did, cid: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", mime_type: "image/png", size: 1, temp_key: null, width: null, height: null, created_at: now, takedown_ref: null }).execute();
  const blobs = { ...ctx.blobs, delete: async () => Promise.reject(new Error("storage down")) };
  await deleteAccountData({ ...ctx, blobs }, did);
  expect(await ctx.db.db().selectFrom("account").select("did").where("did", "=", did).execute()).toEqual([]);
  expect(await ctx.db.db().selectFrom("blob").select("did").where("did", "=", did).execute()).toEqual([]);
  expect(ctx.logs.find((l) => l.msg === "account deleted, but some of its blob bytes could not be removed from the blob store")).toMatchObject({ did });
  const again = await deleteAccountData(ctx, did).catch((e) => e);
  expect([again.status, again.message]).toEqual([400, "account not found"]);
});
