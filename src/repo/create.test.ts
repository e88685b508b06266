import { afterAll, beforeAll, expect, test } from "bun:test";
import { Secp256k1Keypair } from "@atproto/crypto";
import { Repo } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { type TestContext, testContext } from "@test/support/context";
import { createRepo } from "./create";
import { SqlRepoStorage } from "./storage";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await testContext();
});
afterAll(() => ctx.close());

test("createRepo writes a signed, empty v3 commit and its root in the caller's transaction", async () => {
  const did = "did:plc:createrepo00000000000000";
  const key = await Secp256k1Keypair.create();
  const made = await ctx.db.transaction((tx) => createRepo(tx, did, key));
  const root = await ctx.db.db().selectFrom("repo_root").selectAll().where("did", "=", did).executeTakeFirstOrThrow();
  expect(root).toMatchObject({ cid: made.cid, rev: made.rev });

  const repo = await Repo.load(new SqlRepoStorage(ctx.db.db(), did), CID.parse(made.cid));
  expect(repo.commit).toMatchObject({ did, version: 3, rev: made.rev, prev: null });
  expect(await repo.data.list()).toEqual([]);
  const { verifyCommitSig } = await import("@atproto/repo");
  expect(await verifyCommitSig(repo.commit, key.did())).toBe(true);
});

test("createRepo writes nothing when the transaction rolls back", async () => {
  const did = "did:plc:createrepo11111111111111";
  const key = await Secp256k1Keypair.create();
  const failure = ctx.db.transaction(async (tx) => {
    await createRepo(tx, did, key);
    throw new Error("account insert failed");
  });
  await expect(failure).rejects.toThrow("account insert failed");
  const blocks = await ctx.db.db().selectFrom("repo_block").select("cid").where("did", "=", did).execute();
  expect(blocks).toEqual([]);
});
