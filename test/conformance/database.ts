/**
 * The database conformance suite: every database plugin runs it against a
 * real, empty database (db-sqlite: a temp file; db-postgres: a fresh
 * database on the test server). When the plugin is `shared`, the suite also
 * runs a second instance on the same database — two pools, like two nodes —
 * for the migration lock, the repo lock and notifications.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Kysely, sql } from "kysely";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import type { DatabasePlugin, DbTransaction } from "@/contracts/db";
import type { PluginContext } from "@/contracts/plugin";
import { DbError, isUniqueViolation } from "@/db/errors";
import { MIGRATIONS } from "@/db/migrations";
import { migrateToLatest, migrationStatus, revertLatest } from "@/db/migrator";
import type { NewRow, Row, TableName } from "@/db/schema";
import { PluginError } from "@/errors";
import { createLogger } from "@/log";
import { eventually } from "@test/support/eventually";

export interface DatabaseUnderTest {
  /** A new, uninitialised plugin on the suite's database; no I/O (called at registration, and once per node). */
  make(): DatabasePlugin;
  /** Create the empty database. */
  prepare(): Promise<void>;
  /** Remove the database. */
  dispose(): Promise<void>;
}

export function pluginContext(): PluginContext & { cleanup(): void } {
  const dataDir = mkdtempSync(join(tmpdir(), "aurora-db-"));
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true });
  return { dataDir, log: createLogger("silent"), metrics: new Registry(), cleanup };
}

/** Take `did`'s repo lock on `plugin` and keep it until `release()`; resolves once the lock is held. */
export async function holdRepoLock(plugin: DatabasePlugin, did: string): Promise<{ release(): Promise<void> }> {
  const held = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const holder = plugin.withRepoLock(did, async () => {
    entered.resolve();
    await held.promise;
  });
  await entered.promise;
  return {
    release: async () => {
      held.resolve();
      await holder;
    },
  };
}

const now = new Date().toISOString();
const DID = "did:plc:conformance0000000000000";
const EVERY_BYTE = Uint8Array.from({ length: 256 }, (_, i) => i);
const BIG = new Uint8Array(randomBytes(200 * 1024));
const URI = `at://${DID}/app.bsky.feed.post/3kabcdefghij2`;

type Sample<T extends TableName> = { row: NewRow<T>; key: (keyof NewRow<T> & string)[]; defaults?: Partial<Row<T>> };
const REV = "3kabcdefghij2";

/** One row per table, every column set; `key` selects it back; `defaults` are filled in by the database. */
const SAMPLES: { [T in TableName]: Sample<T> } = {
  account: {
    row: {
      did: DID,
      handle: "round.trip.test",
      email: "round@trip.test",
      email_confirmed_at: now,
      password_hash: "$argon2id$v=19$x",
      signing_key: EVERY_BYTE,
      created_at: now,
      deactivated_at: null,
      delete_after: null,
      takedown_ref: null,
    },
    key: ["did"],
    defaults: { invites_disabled: 0, email_auth_factor: 0 },
  },
  app_password: {
    row: { did: DID, name: "phone", password_hash: "h", privileged: 1, created_at: now },
    key: ["did", "name"],
  },
  refresh_token: {
    row: { id: "jti-1", did: DID, expires_at: now, app_password_name: "phone", next_id: "jti-2" },
    key: ["id"],
  },
  invite_code: {
    row: { code: "pds-test-abcde", available_uses: 2, for_account: "admin", created_by: "admin", created_at: now },
    key: ["code"],
    defaults: { disabled: 0 },
  },
  invite_code_use: { row: { code: "pds-test-abcde", used_by: DID, used_at: now }, key: ["code", "used_by"] },
  repo_root: { row: { did: DID, cid: "bafyreicommit", rev: REV, indexed_at: now }, key: ["did"] },
  repo_block: {
    row: { did: DID, cid: "bafyreiblock", rev: REV, size: BIG.length, content: BIG },
    key: ["did", "cid"],
  },
  record: {
    row: {
      uri: URI,
      cid: "bafyreirecord",
      did: DID,
      collection: "app.bsky.feed.post",
      rkey: REV,
      rev: REV,
      indexed_at: now,
      takedown_ref: null,
    },
    key: ["uri"],
  },
  blob: {
    // 5 GB: beyond 32 bits, so 64-bit integers must survive the round trip.
    row: {
      did: DID,
      cid: "bafkreiblob",
      mime_type: "image/png",
      size: 5_000_000_000,
      temp_key: "tmp/abc",
      width: 640,
      height: 480,
      created_at: now,
      takedown_ref: "mod-1",
    },
    key: ["did", "cid"],
  },
  record_blob: { row: { did: DID, blob_cid: "bafkreiblob", record_uri: URI }, key: ["did", "blob_cid", "record_uri"] },
  repo_seq: {
    row: { did: DID, event_type: "commit", event: new Uint8Array(0), sequenced_at: now },
    key: ["did"],
    defaults: { invalidated: 0 },
  },
  cache_entry: { row: { key: "conformance", value: '{"a":1}', expires_at: null }, key: ["key"] },
  account_pref: {
    row: { did: DID, position: 0, name: "app.bsky.actor.defs#adultContentPref", value_json: '{"$type":"app.bsky.actor.defs#adultContentPref","enabled":true}' },
    key: ["did", "position"],
  },
  deleted_account: { row: { did: DID, deleted_at: now }, key: ["did"] },
  email_token: { row: { did: DID, purpose: "confirm_email", token_hash: "ab".repeat(32), requested_at: now }, key: ["did", "purpose"] },
  reserved_signing_key: { row: { key_did: "did:key:zQ3shreserved", for_did: DID, signing_key: new Uint8Array([1, 2, 3]), created_at: now }, key: ["key_did"] },
  oauth_request: {
    row: { id: "req-1", client_id: "https://app.test/client-metadata.json", client_auth: '{"method":"none"}', parameters: "{}", dpop_jkt: "jkt", device_id: "dev-1", did: DID, code: "cod-1", expires_at: now, created_at: now },
    key: ["id"],
  },
  oauth_device: { row: { id: "dev-1", secret_hash: "ab", user_agent: "Chromium", ip: "127.0.0.1", created_at: now, last_seen_at: now }, key: ["id"] },
  oauth_device_account: { row: { device_id: "dev-1", did: DID, authenticated_at: now, remember: 1 }, key: ["device_id", "did"] },
  oauth_authorized_client: { row: { did: DID, client_id: "https://app.test/client-metadata.json", scope: "atproto", created_at: now, updated_at: now }, key: ["did", "client_id"] },
  oauth_token: {
    row: {
      id: "tok-1", did: DID, client_id: "https://app.test/client-metadata.json", client_auth: '{"method":"none"}', device_id: "dev-1", parameters: "{}",
      scope: "atproto", dpop_jkt: "jkt", code: "cod-1", refresh_token: "ref-1", created_at: now, updated_at: now, expires_at: now,
    },
    key: ["id"],
  },
  oauth_used_refresh_token: { row: { refresh_token: "ref-0", token_id: "tok-1" }, key: ["refresh_token"] },
  oauth_replay: { row: { key: "dpop:jti", expires_at: now }, key: ["key"] },
  admin_action: {
    row: { id: "act-1", created_at: now, actor: "admin", action: "takedown", subject_type: "account", subject: DID, subject_did: DID, detail: '{"ref":"t-1"}' },
    key: ["id"],
  },
};

const TABLES = Object.keys(SAMPLES) as TableName[];

/** Buffers (PostgreSQL) and Uint8Arrays (SQLite) compare as plain byte arrays. */
const plain = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Uint8Array ? new Uint8Array(v) : v]));

export function databaseConformance(label: string, under: DatabaseUnderTest): void {
  const shared = under.make().shared;
  describe(`database conformance: ${label}`, () => {
    let plugin: DatabasePlugin;
    /** A second node on the same database when the plugin is shared; otherwise the same instance. */
    let other: DatabasePlugin;
    const ctx = pluginContext();
    const any = () => plugin.db() as unknown as Kysely<any>;

    beforeAll(async () => {
      await under.prepare();
      plugin = under.make();
      await plugin.init(ctx);
      other = shared ? under.make() : plugin;
      if (other !== plugin) await other.init(ctx);
    });
    afterAll(async () => {
      await plugin?.close();
      if (other !== plugin) await other?.close();
      await under.dispose();
      ctx.cleanup();
    });

    test("db() throws an unavailable PluginError before init and after close; health passes between", async () => {
      const fresh = under.make();
      const unavailable = () => {
        const err = (() => { try { fresh.db(); } catch (e) { return e; } })();
        expect(err).toBeInstanceOf(PluginError);
        expect((err as PluginError).unavailable).toBe(true);
      };
      unavailable();
      await fresh.init(ctx);
      await fresh.health();
      await fresh.close();
      unavailable();
    });

    test("a fresh database has every migration pending", async () => {
      expect(await migrationStatus(plugin)).toEqual(MIGRATIONS.map(([name]) => ({ name, appliedAt: null })));
    });

    test("two migrators at once: one applies every migration, the other waits and finds nothing to do", async () => {
      const [a, b] = await Promise.all([migrateToLatest(plugin), migrateToLatest(other)]);
      const names = MIGRATIONS.map(([name]) => name);
      // Without a `shared` second node both calls went through one instance, one after the other.
      expect([a, b].sort((x, y) => y.length - x.length)).toEqual([names, []]);
      const status = await migrationStatus(other);
      expect(status.every((m) => m.appliedAt !== null)).toBe(true);
    });

    test("revert undoes the newest migration and its tables; migrating again re-applies it", async () => {
      const newest = MIGRATIONS.at(-1)![0];
      expect(await revertLatest(plugin)).toBe(newest);
      expect((await migrationStatus(plugin)).find((m) => m.name === newest)?.appliedAt).toBeNull();
      if (MIGRATIONS.length === 1) {
        const err = await sql`select * from account`.execute(any()).catch((e) => e);
        expect(err).toBeInstanceOf(DbError);
        expect((err as DbError).reason).toBe("query");
      }
      expect(await migrateToLatest(plugin)).toEqual([newest]);
      expect(await migrateToLatest(plugin)).toEqual([]);
    });

    test("the samples cover every table the migrations create", async () => {
      const tables = await plugin.db().introspection.getTables();
      const ours = tables.map((t) => t.name).filter((n) => !n.startsWith("aurora_migration"));
      expect(ours.sort()).toEqual([...TABLES].sort());
    });

    test.each(TABLES)("%s: a row round-trips through Kysely, bytes identical", async (table) => {
      // Typed per table above; a loop over all tables needs the plain shape.
      const sample = SAMPLES[table] as unknown as { row: Record<string, unknown>; key: string[]; defaults?: object };
      const { row, key, defaults } = sample;
      await any().insertInto(table).values(row).execute();
      let query = any().selectFrom(table).selectAll();
      for (const column of key) query = query.where(column, "=", row[column]);
      const got = await query.execute();
      expect(got).toHaveLength(1);
      const { seq: _seq, ...rest } = plain(got[0]!);
      expect(rest).toEqual(plain({ ...row, ...defaults }));
    });

    test("repo_seq: seqs increase and are never reused, even after the newest row is deleted", async () => {
      const insert = async () => {
        const event = { did: DID, event_type: "identity", event: EVERY_BYTE, sequenced_at: now };
        const { seq } = await plugin.db().insertInto("repo_seq").values(event).returning("seq").executeTakeFirstOrThrow();
        return seq;
      };
      const [a, b] = [await insert(), await insert()];
      expect(typeof a).toBe("number");
      expect(b).toBeGreaterThan(a);
      await plugin.db().deleteFrom("repo_seq").where("seq", "=", b).execute();
      expect(await insert()).toBeGreaterThan(b);
    });

    test("upsert (onConflict) is the same on every dialect", async () => {
      const put = (value: string) =>
        plugin
          .db()
          .insertInto("cache_entry")
          .values({ key: "upsert", value, expires_at: null })
          .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
          .execute();
      await put("one");
      await put("two");
      const rows = await plugin.db().selectFrom("cache_entry").select("value").where("key", "=", "upsert").execute();
      expect(rows).toEqual([{ value: "two" }]);
    });

    test("handles and emails are unique case-insensitively; duplicates are typed unique violations", async () => {
      const account = (did: string, handle: string | null, email: string | null) =>
        any()
          .insertInto("account")
          .values({ ...SAMPLES.account.row, did, handle, email })
          .execute()
          .then(() => "inserted", (e: unknown) => e);
      expect(await account("did:plc:case1", "alice.test", "Alice@Example.com")).toBe("inserted");
      const byHandle = await account("did:plc:case2", "ALICE.Test", null);
      expect(isUniqueViolation(byHandle)).toBe(true);
      expect(byHandle).toBeInstanceOf(PluginError);
      expect((byHandle as PluginError).message).toContain(`[${plugin.name}]`);
      expect((byHandle as PluginError).unavailable).toBe(false);
      expect(isUniqueViolation(await account("did:plc:case3", "bob.test", "alice@EXAMPLE.com"))).toBe(true);
      // Several accounts without a handle or email do not collide.
      expect(await account("did:plc:case4", null, null)).toBe("inserted");
      expect(await account("did:plc:case5", null, null)).toBe("inserted");
    });

    test("a failing query is a DbError naming the plugin, not an unavailable one", async () => {
      const err = await sql`select * from no_such_table`.execute(any()).catch((e) => e);
      expect(err).toBeInstanceOf(DbError);
      expect((err as DbError).reason).toBe("query");
      expect((err as DbError).unavailable).toBe(false);
      expect((err as DbError).cause).toBeDefined();
    });

    const rev = async (node: DatabasePlugin, did: string) =>
      (await node.db().selectFrom("repo_root").select("rev").where("did", "=", did).executeTakeFirst())?.rev;
    const root = (did: string, rev: string) => ({ did, cid: "bafyreicommit", rev, indexed_at: now });

    test("transaction rollback leaves nothing behind and rethrows the caller's own error", async () => {
      const did = "did:plc:rollback";
      const boom = new Error("boom");
      const body = async (tx: DbTransaction) => {
        await tx.insertInto("repo_root").values(root(did, "1")).execute();
        await tx.insertInto("repo_block").values({ did, cid: "b", rev: "1", size: 3, content: EVERY_BYTE }).execute();
        throw boom;
      };
      expect(await plugin.transaction(body).catch((e) => e)).toBe(boom);
      expect(await plugin.withRepoLock(did, body).catch((e) => e)).toBe(boom);
      expect(await rev(plugin, did)).toBeUndefined();
      expect(await plugin.db().selectFrom("repo_block").where("did", "=", did).selectAll().execute()).toEqual([]);
    });

    test("a committed transaction is visible to the other node", async () => {
      const result = await plugin.transaction(async (tx) => {
        await tx.insertInto("repo_root").values(root("did:plc:commit", "7")).execute();
        return "done";
      });
      expect(result).toBe("done");
      expect(await rev(other, "did:plc:commit")).toBe("7");
    });

    test("snapshot: its reads see one state while another writer commits (not held up by it); it cannot write", async () => {
      const did = `did:plc:snapshot${randomBytes(4).toString("hex")}`;
      await plugin.db().insertInto("repo_root").values(root(did, "1")).execute();
      const read = (tx: DbTransaction) => tx.selectFrom("repo_root").select("rev").where("did", "=", did).executeTakeFirstOrThrow();
      const seen = await plugin.snapshot(async (tx) => {
        const before = await read(tx);
        // Awaited inside the snapshot: a writer that had to wait for it would never finish.
        await other.transaction((w) => w.updateTable("repo_root").set({ rev: "2" }).where("did", "=", did).execute());
        const after = await read(tx);
        return { before: before.rev, after: after.rev };
      });
      expect(seen).toEqual({ before: "1", after: "1" });
      expect(await rev(plugin, did)).toBe("2");
      const write = plugin.snapshot((tx) => tx.insertInto("repo_root").values(root(`${did}x`, "1")).execute());
      expect(await write.catch((e: unknown) => e)).toBeInstanceOf(DbError);
      expect(await rev(plugin, `${did}x`)).toBeUndefined();
    });

    type Run = (i: number, did: string, fn: (tx: DbTransaction) => Promise<void>) => Promise<unknown>;
    /** 16 writers each read a counter, pause, and write it + 1; resolves to the final count. */
    const counterWriters = async (run: Run) => {
      const did = `did:plc:counter${randomBytes(4).toString("hex")}`;
      await plugin.db().insertInto("repo_root").values(root(did, "0")).execute();
      const increment = async (tx: DbTransaction) => {
        const row = await tx.selectFrom("repo_root").select("rev").where("did", "=", did).executeTakeFirstOrThrow();
        await Bun.sleep(3);
        await tx.updateTable("repo_root").set({ rev: String(Number(row.rev) + 1) }).where("did", "=", did).execute();
      };
      await Promise.all(Array.from({ length: 16 }, (_, i) => run(i, did, increment)));
      return Number(await rev(plugin, did));
    };

    test("16 concurrent writers to one repo under withRepoLock, split over the nodes: no lost update", async () => {
      const nodes = [plugin, other];
      expect(await counterWriters((i, did, fn) => nodes[i % 2]!.withRepoLock(did, fn))).toBe(16);
    });

    // Only where writers can interleave: SQLite's single writer serialises plain transactions as well.
    if (shared) {
      test("control: the same writers in plain transactions lose updates (so the test above can fail)", async () => {
        const nodes = [plugin, other];
        expect(await counterWriters((i, _did, fn) => nodes[i % 2]!.transaction(fn))).toBeLessThan(16);
      });
    }

    test("a repo lock held on one node blocks the same repo on the other, and only that repo", async () => {
      const lock = await holdRepoLock(plugin, "did:plc:locka");
      let waiterDone = false;
      const waiter = other.withRepoLock("did:plc:locka", async () => {}).then(() => (waiterDone = true));
      // Another repository is not held up (PostgreSQL; SQLite's single writer waits for everyone).
      if (shared) await other.withRepoLock("did:plc:lockb", async () => {});
      await Bun.sleep(150);
      expect(waiterDone).toBe(false);
      await lock.release();
      await waiter;
      expect(waiterDone).toBe(true);
    });

    test("notify reaches listeners (on the other node when shared); unsubscribing stops delivery", async () => {
      const got: (string | null)[] = [];
      const stop = await other.listen("aurora_conformance", (payload) => got.push(payload));
      await plugin.notify("aurora_conformance", "hello");
      await plugin.notify("aurora_other_channel", "not for us");
      await eventually(() => got.includes("hello"), { timeoutMs: 3000, what: "notification delivery" });
      await stop();
      await plugin.notify("aurora_conformance", "after");
      await Bun.sleep(100);
      expect(got).toEqual(["hello"]);
    });
  });
}
