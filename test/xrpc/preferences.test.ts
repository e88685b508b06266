/**
 * app.bsky.actor.getPreferences / putPreferences through the whole HTTP
 * surface, on SQLite and PostgreSQL: exact round trips, whole-set
 * replacement, the reference's refusals, personal details kept from app
 * passwords, accounts kept apart, account status, and atomic concurrent puts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BACKENDS } from "@test/repo/backends";
import type { TestContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type Reply, type TestAccount, newAccount, serverConfig, xrpc } from "./support";

const GET = "app.bsky.actor.getPreferences";
const PUT = "app.bsky.actor.putPreferences";
const PERSONAL = { $type: "app.bsky.actor.defs#personalDetailsPref", birthDate: "1990-04-01T00:00:00.000Z" };

// Known types (validated against their lexicon) and an unknown app.bsky one, in an order the server must keep.
const SEVERAL = [
  { $type: "app.bsky.actor.defs#adultContentPref", enabled: true },
  { $type: "app.bsky.actor.defs#contentLabelPref", label: "nsfw", visibility: "warn" },
  {
    $type: "app.bsky.actor.defs#savedFeedsPrefV2",
    items: [{ id: "3l6ovcmm2vd2j", type: "timeline", value: "following", pinned: true }],
  },
  { $type: "app.bsky.actor.defs#mutedWordsPref", items: [{ value: "spoilers ✨", targets: ["content", "tag"] }] },
  // Unknown: stored as sent, floats, a NUL (which PostgreSQL text refuses raw) and a lone surrogate included.
  { $type: "app.bsky.future.defs#somethingNew", zeta: 1, alpha: { nested: [null, "ü", { deep: false }] }, ratio: 0.5, odd: "a\u0000b\ud800" },
  { $type: "app.bsky.actor.defs#adultContentPref", enabled: false },
];

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`preferences on ${backend.name}`, () => {
    let plc: TestPlc;
    let ctx: TestContext;
    let alice: TestAccount;
    let bob: TestAccount;
    /** Alice's app passwords, logged in: `appPass` without the privileged scope, `privileged` with it. */
    const alicePass = { appPass: "", privileged: "" };

    const get = (auth: string) => xrpc(ctx, GET, { auth });
    const put = (auth: string, preferences: unknown) => xrpc(ctx, PUT, { auth, body: { preferences } });
    const prefsOf = async (auth: string) => {
      const res = await get(auth);
      expect(res.status).toBe(200);
      return res.body.preferences as unknown[];
    };
    const refused = (res: Reply) => ({ status: res.status, error: res.body.error, message: res.body.message });

    async function appPasswordSession(account: TestAccount, privileged: boolean): Promise<string> {
      const made = await xrpc(ctx, "com.atproto.server.createAppPassword", { auth: account.bearer, body: { name: `p-${privileged}`, privileged } });
      expect(made.status).toBe(200);
      const login = await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: account.handle, password: made.body.password } });
      expect(login.status).toBe(200);
      return `Bearer ${login.body.accessJwt}`;
    }

    beforeAll(async () => {
      plc = await startPlc();
      ctx = await backend.open(serverConfig(plc.url));
      [alice, bob] = [await newAccount(ctx, "alice"), await newAccount(ctx, "bob")];
      alicePass.appPass = await appPasswordSession(alice, false);
      alicePass.privileged = await appPasswordSession(alice, true);
    });
    afterAll(async () => {
      await ctx?.close();
      await backend.dispose();
      await plc?.stop();
    });

    test("a new account has no preferences; without a token the methods are 401", async () => {
      expect(await prefsOf(alice.bearer)).toEqual([]);
      expect((await xrpc(ctx, GET)).status).toBe(401);
      expect((await xrpc(ctx, PUT, { body: { preferences: [] } })).status).toBe(401);
    });

    test("several types round-trip exactly: same values, same order, same key order, duplicates kept", async () => {
      expect((await put(alice.bearer, SEVERAL)).status).toBe(200);
      const got = await prefsOf(alice.bearer);
      expect(got).toEqual(SEVERAL);
      expect(JSON.stringify(got)).toBe(JSON.stringify(SEVERAL));
    });

    test("a put replaces the whole set; an empty put clears it", async () => {
      const one = [SEVERAL[1]];
      expect((await put(alice.bearer, one)).status).toBe(200);
      expect(await prefsOf(alice.bearer)).toEqual(one);
      expect((await put(alice.bearer, [])).status).toBe(200);
      expect(await prefsOf(alice.bearer)).toEqual([]);
    });

    test.each([
      ["another namespace", { $type: "com.example.pref", on: true }, "Some preferences are not in the app.bsky namespace"],
      ["a look-alike prefix", { $type: "app.bskyx.pref" }, "Some preferences are not in the app.bsky namespace"],
      ["no $type", { enabled: true }, "Preference is missing a $type"],
      ["a non-string $type", { $type: 7 }, "Preference is missing a $type"],
      ["not an object", "app.bsky.actor.defs#adultContentPref", "Preference is missing a $type"],
      ["a known type breaking its lexicon", { $type: "app.bsky.actor.defs#adultContentPref", enabled: "yes" }, "Input/preferences/1/enabled must be a boolean"],
    ])("%s is refused with 400 and nothing changes", async (_name, bad, message) => {
      expect((await put(alice.bearer, [SEVERAL[0]])).status).toBe(200);
      const res = await put(alice.bearer, [SEVERAL[1], bad]);
      expect(refused(res)).toEqual({ status: 400, error: "InvalidRequest", message });
      expect(await prefsOf(alice.bearer)).toEqual([SEVERAL[0]]);
    });

    test("a body that is not {preferences: [...]} is 400; one past the JSON body cap is 413; deep nesting is 400", async () => {
      expect((await xrpc(ctx, PUT, { auth: alice.bearer, body: { preferences: {} } })).status).toBe(400);
      expect((await xrpc(ctx, PUT, { auth: alice.bearer, body: {} })).status).toBe(400);
      const huge = [{ $type: "app.bsky.future.defs#big", text: "x".repeat(ctx.config.service.maxJsonBodyBytes) }];
      expect(refused(await put(alice.bearer, huge)).status).toBe(413);
      let deep: unknown = "leaf";
      for (let i = 0; i < 200; i++) deep = { d: deep };
      const res = await put(alice.bearer, [{ $type: "app.bsky.future.defs#deep", deep }]);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain("nested too deeply");
    });

    test("personal details: a full session sees them and the derived age; app passwords see only the age", async () => {
      expect((await put(alice.bearer, [SEVERAL[0], PERSONAL])).status).toBe(200);
      const age = { $type: "app.bsky.actor.defs#declaredAgePref", isOverAge13: true, isOverAge16: true, isOverAge18: true };
      expect(await prefsOf(alice.bearer)).toEqual([SEVERAL[0], PERSONAL, age]);
      // As the reference: only a full session has full access, a privileged app password does not.
      expect(await prefsOf(alicePass.appPass)).toEqual([SEVERAL[0], age]);
      expect(await prefsOf(alicePass.privileged)).toEqual([SEVERAL[0], age]);
    });

    test("an app password cannot set personal details, and its puts keep the hidden ones", async () => {
      for (const auth of [alicePass.appPass, alicePass.privileged]) {
        expect(refused(await put(auth, [SEVERAL[1], PERSONAL]))).toEqual({
          status: 400,
          error: "InvalidRequest",
          message: "Do not have authorization to set preferences: app.bsky.actor.defs#personalDetailsPref",
        });
      }
      expect((await put(alicePass.appPass, [SEVERAL[2]])).status).toBe(200);
      const full = await prefsOf(alice.bearer);
      expect(full.slice(0, 2)).toEqual([PERSONAL, SEVERAL[2]]);
      expect(await prefsOf(alicePass.appPass)).toEqual([SEVERAL[2], expect.objectContaining({ $type: "app.bsky.actor.defs#declaredAgePref" })]);
      // A full session's put replaces them like any other preference.
      expect((await put(alice.bearer, [SEVERAL[2]])).status).toBe(200);
      expect(await prefsOf(alice.bearer)).toEqual([SEVERAL[2]]);
    });

    test("the derived age preference sent back is dropped, not stored", async () => {
      const age = { $type: "app.bsky.actor.defs#declaredAgePref", isOverAge13: true, isOverAge16: true, isOverAge18: true };
      expect((await put(alice.bearer, [age, SEVERAL[0]])).status).toBe(200);
      expect(await prefsOf(alice.bearer)).toEqual([SEVERAL[0]]);
      const rows = await ctx.db.db().selectFrom("account_pref").select("name").where("did", "=", alice.did).execute();
      expect(rows.map((r) => r.name)).toEqual([SEVERAL[0]!.$type]);
    });

    test("one account never sees or changes another's", async () => {
      expect((await put(alice.bearer, SEVERAL)).status).toBe(200);
      expect(await prefsOf(bob.bearer)).toEqual([]);
      expect((await put(bob.bearer, [SEVERAL[3]])).status).toBe(200);
      expect(await prefsOf(alice.bearer)).toEqual(SEVERAL);
      expect(await prefsOf(bob.bearer)).toEqual([SEVERAL[3]]);
    });

    test("concurrent puts never mix: the result is exactly one of the sets", async () => {
      const sets = Array.from({ length: 8 }, (_, n) =>
        Array.from({ length: 3 }, (_, i) => ({ $type: "app.bsky.future.defs#race", put: n, item: i })),
      );
      const results = await Promise.all(sets.map((set) => put(alice.bearer, set)));
      expect(results.map((r) => r.status)).toEqual(sets.map(() => 200));
      const got = await prefsOf(alice.bearer);
      expect(sets).toContainEqual(got as (typeof sets)[number]);
    });

    test("deactivated accounts read and write; taken-down accounts only read (the reference's auth)", async () => {
      const carol = await newAccount(ctx, "carol");
      expect((await put(carol.bearer, [SEVERAL[0]])).status).toBe(200);
      // Sessions unused until their status is set: a used one may sit in the session cache with the old status.
      const fresh = async () => {
        const login = await xrpc(ctx, "com.atproto.server.createSession", { body: { identifier: carol.handle, password: carol.password } });
        return `Bearer ${login.body.accessJwt}`;
      };
      const [whileDeactivated, whileTakenDown] = [await fresh(), await fresh()];
      const db = ctx.db.db();
      await db.updateTable("account").set({ deactivated_at: new Date().toISOString() }).where("did", "=", carol.did).execute();
      expect(await prefsOf(whileDeactivated)).toEqual([SEVERAL[0]]);
      expect((await put(whileDeactivated, [SEVERAL[1]])).status).toBe(200);
      await db.updateTable("account").set({ deactivated_at: null, takedown_ref: "mod-1" }).where("did", "=", carol.did).execute();
      expect(await prefsOf(whileTakenDown)).toEqual([SEVERAL[1]]);
      expect(refused(await put(whileTakenDown, [SEVERAL[0]]))).toMatchObject({ status: 401, error: "AccountTakedown" });
    });
  });
}
