/**
 * Preferences with the official client against a listening Aurora: the raw
 * app.bsky.actor methods, then @atproto/api's helpers (which read, modify and
 * put the whole set), a privileged app password that must not see or lose
 * the birth date, and on PostgreSQL a second node serving what the first
 * stored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtpAgent } from "@atproto/api";
import postgresjs from "postgres";
import { postgres } from "@plugins/db-postgres";
import { sqlite } from "@plugins/db-sqlite";
import type { DatabasePlugin } from "@/contracts/db";
import { type TestPlc, startPlc } from "@test/support/plc";
import { type Node, failure, startNode } from "./accounts-support";

interface Setup {
  name: string;
  /** Databases for the nodes: one for SQLite, two plugins on one database for PostgreSQL. */
  dbs(): Promise<DatabasePlugin[]>;
  dispose(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), "aurora-prefs-"));
const pgName = `aurora_prefs_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
const pgAdmin = () => postgresjs(process.env.AURORA_TEST_POSTGRES_URL!, { max: 1, onnotice: () => {} });

const SETUPS: Setup[] = [
  {
    name: "sqlite",
    dbs: async () => [sqlite({ path: join(dir, "prefs.sqlite") })],
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  },
  {
    name: "postgres, two nodes",
    async dbs() {
      const admin = pgAdmin();
      await admin.unsafe(`create database ${pgName}`);
      await admin.end();
      const url = Object.assign(new URL(process.env.AURORA_TEST_POSTGRES_URL!), { pathname: `/${pgName}` }).toString();
      return [postgres({ url, maxConnections: 5 }), postgres({ url, maxConnections: 5 })];
    },
    async dispose() {
      const admin = pgAdmin();
      await admin.unsafe(`drop database if exists ${pgName} with (force)`);
      await admin.end();
    },
  },
];

const FEED = "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/whats-hot";
const BORN = new Date("1990-04-01T00:00:00.000Z");

for (const setup of SETUPS) {
  describe(`preferences e2e (${setup.name})`, () => {
    let plc: TestPlc;
    let nodes: Node[];
    let alice: AtpAgent;
    let handle: string;

    beforeAll(async () => {
      plc = await startPlc();
      nodes = [];
      for (const db of await setup.dbs()) {
        nodes.push(await startNode({ plcUrl: plc.url, db, config: { service: { inviteRequired: false } } }));
      }
      alice = nodes[0]!.agent();
      handle = `alice${crypto.randomUUID().slice(0, 6)}.test`;
      await alice.createAccount({ handle, email: `${handle}@mail.test`, password: "alice-password" });
    });
    afterAll(async () => {
      for (const node of nodes ?? []) await node.stop();
      await plc?.stop();
      await setup.dispose();
    });

    test("agent.app.bsky.actor.putPreferences / getPreferences round-trip the raw set", async () => {
      const preferences = [
        { $type: "app.bsky.actor.defs#adultContentPref", enabled: false },
        { $type: "app.bsky.actor.defs#threadViewPref", sort: "oldest" },
      ];
      await alice.app.bsky.actor.putPreferences({ preferences });
      expect((await alice.app.bsky.actor.getPreferences()).data.preferences).toEqual(preferences);
      const err = await failure(alice.app.bsky.actor.putPreferences({ preferences: [{ $type: "com.example.pref" }] }));
      expect(err).toEqual({ status: 400, error: "InvalidRequest" });
    });

    test("the client's helpers read, change and put the whole set", async () => {
      await alice.setAdultContentEnabled(true);
      await alice.addSavedFeeds([{ type: "feed", value: FEED, pinned: true }]);
      await alice.addMutedWord({ value: "spoilers", targets: ["content"], actorTarget: "all" });
      await alice.setPersonalDetails({ birthDate: BORN });
      const prefs = await alice.getPreferences();
      expect(prefs.moderationPrefs.adultContentEnabled).toBe(true);
      expect(prefs.savedFeeds).toContainEqual(expect.objectContaining({ type: "feed", value: FEED, pinned: true }));
      expect(prefs.moderationPrefs.mutedWords).toContainEqual(expect.objectContaining({ value: "spoilers", targets: ["content"] }));
      expect(prefs.threadViewPrefs.sort).toBe("oldest");
      expect(prefs.birthDate?.toISOString()).toBe(BORN.toISOString());
      expect(prefs.declaredAge).toMatchObject({ isOverAge13: true, isOverAge16: true, isOverAge18: true });
    });

    test("a privileged app password sees neither the birth date nor can set it, and its helper puts keep it", async () => {
      const { data } = await alice.com.atproto.server.createAppPassword({ name: "phone", privileged: true });
      const phone = nodes.at(-1)!.agent();
      await phone.login({ identifier: handle, password: data.password });
      const seen = await phone.getPreferences();
      expect(seen.birthDate).toBeUndefined();
      expect(seen.declaredAge).toMatchObject({ isOverAge18: true });
      expect(seen.moderationPrefs.adultContentEnabled).toBe(true);
      await phone.setAdultContentEnabled(false);
      expect(await failure(phone.setPersonalDetails({ birthDate: new Date("2001-01-01T00:00:00.000Z") }))).toEqual({ status: 400, error: "InvalidRequest" });
      const full = await alice.getPreferences();
      expect(full.moderationPrefs.adultContentEnabled).toBe(false);
      expect(full.birthDate?.toISOString()).toBe(BORN.toISOString());
    });

    test("every node serves the same preferences", async () => {
      const reads = await Promise.all(
        nodes.map(async (node) => {
          const agent = node.agent();
          await agent.login({ identifier: handle, password: "alice-password" });
          return (await agent.app.bsky.actor.getPreferences()).data.preferences;
        }),
      );
      for (const read of reads) expect(read).toEqual(reads[0]!);
      expect(reads[0]!.length).toBeGreaterThan(3);
    });
  });
}
