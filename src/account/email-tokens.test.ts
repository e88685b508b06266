import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatabasePlugin } from "@/contracts/db";
import { migrateToLatest } from "@/plugin-kit";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import { pluginContext } from "@test/conformance/database";
import { freshPostgres } from "@test/support/firehose";
import { EMAIL_TOKEN_TTL_MS, createEmailTokens, generateEmailToken } from "./email-tokens";

const dir = mkdtempSync(join(tmpdir(), "aurora-tokens-"));
let pg: Awaited<ReturnType<typeof freshPostgres>> | undefined;

afterAll(async () => {
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const backends: [string, () => DatabasePlugin, () => Promise<void>][] = [
  ["sqlite", () => sqlite({ path: join(dir, "tokens.sqlite") }), async () => {}],
  ["postgres", () => postgres({ url: pg!.url, maxConnections: 10, minConnections: 1 }), async () => void (pg = await freshPostgres())],
];

const alice = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
const bob = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb";

test("tokens look like the reference's: XXXXX-XXXXX in upper-case base32", () => {
  for (let i = 0; i < 200; i++) expect(generateEmailToken()).toMatch(/^[A-Z2-7]{5}-[A-Z2-7]{5}$/);
});

describe.each(backends)("email tokens on %s", (_label, make, prepare) => {
  let db: DatabasePlugin;
  let other: DatabasePlugin;
  let clock = Date.now();
  const contexts: ReturnType<typeof pluginContext>[] = [];
  const context = () => {
    const c = pluginContext();
    contexts.push(c);
    return c;
  };
  const tokensOn = (plugin: DatabasePlugin) => createEmailTokens({ db: () => plugin.db(), now: () => clock });

  beforeAll(async () => {
    await prepare();
    db = make();
    await db.init(context());
    await migrateToLatest(db);
    other = make();
    await other.init(context());
  });
  afterAll(async () => {
    await other?.close();
    await db?.close();
    for (const c of contexts) c.cleanup();
  });

  test("single use, in any case and with stray spaces; only the hash is stored", async () => {
    const tokens = tokensOn(db);
    const token = await tokens.issue(alice, "confirm_email");
    const rows = await db.db().selectFrom("email_token").selectAll().where("did", "=", alice).execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    await tokens.consume(alice, "confirm_email", ` ${token.toLowerCase()} `);
    await expect(tokens.consume(alice, "confirm_email", token)).rejects.toMatchObject({ error: "InvalidToken", message: "Token is invalid" });
  });

  test("a token works only for its account and purpose; a new one replaces the old", async () => {
    const tokens = tokensOn(db);
    const first = await tokens.issue(alice, "update_email");
    const bobs = await tokens.issue(bob, "update_email");
    await expect(tokens.consume(alice, "reset_password", first)).rejects.toMatchObject({ error: "InvalidToken" });
    await expect(tokens.consume(alice, "update_email", bobs)).rejects.toMatchObject({ error: "InvalidToken" });
    const second = await tokens.issue(alice, "update_email");
    await expect(tokens.consume(alice, "update_email", first)).rejects.toMatchObject({ error: "InvalidToken" });
    await tokens.consume(alice, "update_email", second);
    await tokens.consume(bob, "update_email", bobs);
  });

  test("expiry after 15 minutes: ExpiredToken", async () => {
    const tokens = tokensOn(db);
    const token = await tokens.issue(alice, "two_factor");
    const late = await tokens.issue(bob, "two_factor");
    clock += EMAIL_TOKEN_TTL_MS - 1000;
    await tokens.consume(alice, "two_factor", token);
    clock += 2000;
    await expect(tokens.consume(bob, "two_factor", late)).rejects.toMatchObject({ error: "ExpiredToken", message: "Token is expired" });
  });

  test("consumeByToken names the account; revokeAll drops everything outstanding", async () => {
    const tokens = tokensOn(db);
    const reset = await tokens.issue(bob, "reset_password");
    await expect(tokens.consumeByToken("confirm_email", reset)).rejects.toMatchObject({ error: "InvalidToken" });
    expect(await tokens.consumeByToken("reset_password", reset)).toBe(bob);
    await expect(tokens.consumeByToken("reset_password", reset)).rejects.toMatchObject({ error: "InvalidToken" });
    const confirm = await tokens.issue(bob, "confirm_email");
    await tokens.issue(bob, "delete_account");
    await tokens.revokeAll(bob);
    await expect(tokens.consume(bob, "confirm_email", confirm)).rejects.toMatchObject({ error: "InvalidToken" });
  });

  test("20 concurrent consumptions of one token through two connections (nodes): exactly one wins", async () => {
    const token = await tokensOn(db).issue(alice, "delete_account");
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => tokensOn(i % 2 ? db : other).consume(alice, "delete_account", token)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ error: "InvalidToken" });
  });
});
