/**
 * db-postgres against a PRIVATE PostgreSQL that the tests stop and start:
 * outages are clean 503-style errors that fail fast, and the same plugin
 * instance (pool and LISTEN) works again within seconds of the database's
 * return, with no restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql as raw } from "kysely";
import { type DatabasePlugin, DbError, type DbTransaction, migrateToLatest, PluginError } from "@/plugin-kit";
import { holdRepoLock, pluginContext } from "@test/conformance/database";
import { testContext } from "@test/support/context";
import { type Service, startPostgres } from "@test/support/services";
import postgresjs from "postgres";
import { postgres } from "./index";
import { eventually } from "@test/support/eventually";

let pg: Service;
let plugin: DatabasePlugin;
const ctx = pluginContext();
const options = () => ({ url: pg.url, maxConnections: 4, minConnections: 3, connectTimeout: 2 });
const now = new Date().toISOString();

beforeAll(async () => {
  pg = await startPostgres();
  plugin = postgres(options());
  await plugin.init(ctx);
  await migrateToLatest(plugin);
});
afterAll(async () => {
  await plugin?.close();
  await pg?.stop();
  ctx.cleanup();
});

/** Run `fn` and return what it threw, with how long it took. */
async function failure(fn: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const start = performance.now();
  const err = await fn().then(() => undefined, (e: unknown) => e);
  return { err, ms: performance.now() - start };
}

function expectUnavailable(err: unknown) {
  expect(err).toBeInstanceOf(PluginError);
  expect((err as PluginError).unavailable).toBe(true);
  expect((err as PluginError).message).toContain("[db-postgres]");
}

describe("db-postgres outages", () => {
  test("init opens minConnections connections up front", async () => {
    const rows = await plugin
      .db()
      .selectFrom("pg_stat_activity" as never)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("application_name" as never, "=", "aurora" as never)
      .executeTakeFirstOrThrow();
    expect(rows.n).toBeGreaterThanOrEqual(3);
  });

  test("PostgreSQL restarted mid-test: fast unavailable errors while down, the same instance recovers", async () => {
    const heard: (string | null)[] = [];
    await plugin.listen("outage", (payload) => heard.push(payload));
    await plugin.db().insertInto("repo_root").values({ did: "did:plc:outage", cid: "c", rev: "1", indexed_at: now }).execute();

    // A transaction in flight when the database dies fails cleanly, even if it keeps querying.
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const inFlight = failure(() =>
      plugin.withRepoLock("did:plc:outage", async (tx) => {
        entered();
        await paused;
        await tx.selectFrom("repo_root").selectAll().execute().catch(() => {});
        await tx.selectFrom("repo_root").selectAll().execute();
      }),
    );
    await inside;
    await pg.kill();
    resume();
    expectUnavailable((await inFlight).err);

    const attempts = [
      () => plugin.db().selectFrom("repo_root").selectAll().execute(),
      () => plugin.transaction(async (tx) => tx.selectFrom("account").selectAll().execute()),
      () => plugin.withRepoLock("did:plc:outage", async () => {}),
      () => plugin.notify("outage", "while down"),
      () => plugin.health(),
      () => plugin.db().selectFrom("repo_root").selectAll().execute(),
    ];
    for (const attempt of attempts) {
      const { err, ms } = await failure(attempt);
      expectUnavailable(err);
      expect(err).toBeInstanceOf(DbError);
      expect(ms).toBeLessThan(1500);
    }

    await pg.start();
    const back = performance.now();
    await eventually(
      () => plugin.db().selectFrom("repo_root").select("rev").execute().then(() => true, () => false),
      { timeoutMs: 5000, what: "queries after PostgreSQL returned" },
    );
    expect(performance.now() - back).toBeLessThan(5000);
    const row = await plugin.db().selectFrom("repo_root").select("rev").where("did", "=", "did:plc:outage").executeTakeFirst();
    expect(row?.rev).toBe("1");
    await plugin.health();

    // LISTEN is renewed: the handler hears `null` (may have missed some), then live notifications again.
    await eventually(() => heard.includes(null), { timeoutMs: 5000, what: "LISTEN renewal" });
    await plugin.notify("outage", "after");
    await eventually(() => heard.includes("after"), { timeoutMs: 3000, what: "notification after the restart" });
    expect(heard).not.toContain("while down");
  }, 30_000);

  test("a streamed query (getRepo's cursor) whose connection is cut mid-stream fails unavailable, its snapshot ends, the pool goes on", async () => {
    const dids = Array.from({ length: 50 }, (_, i) => `did:plc:stream${String(i).padStart(3, "0")}`);
    await plugin.db().insertInto("repo_root").values(dids.map((did) => ({ did, cid: "c", rev: "1", indexed_at: now }))).execute();
    const streamed = (tx: DbTransaction) =>
      tx.selectFrom("repo_root").select("did").where("did", "like", "did:plc:stream%").orderBy("did").stream(5);
    const admin = postgresjs(pg.url, { max: 1, onnotice: () => {} });
    let seen = 0;
    try {
      const { err, ms } = await failure(() =>
        plugin.snapshot(async (tx) => {
          const { rows } = await raw<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
          for await (const _ of streamed(tx)) {
            if (++seen === 5) await admin`select pg_terminate_backend(${rows[0]!.pid})`;
          }
        }),
      );
      expect(seen).toBeGreaterThanOrEqual(5);
      expect(seen).toBeLessThan(dids.length);
      expect(err).toBeInstanceOf(DbError);
      expect((err as DbError).reason).toBe("unavailable");
      expect(ms).toBeLessThan(5000);
    } finally {
      await admin.end();
    }
    await eventually(() => plugin.db().selectFrom("repo_root").select("did").execute().then(() => true, () => false), {
      timeoutMs: 5000,
      what: "queries after the cut",
    });
    const again = await plugin.snapshot(async (tx) => {
      const out: string[] = [];
      for await (const row of streamed(tx)) out.push(row.did);
      return out;
    });
    expect(again).toEqual(dids);
  }, 30_000);

  test("connections cut by pg_terminate_backend under load: every later query answers at once, none hangs or fails", async () => {
    // The plugin's own reproduction of test/faults/pg-dead-connections.ts: a plain postgres.js 3.4.9 pool fails
    // some of these queries with the dead session's 57P01 and hangs others for the whole connect_timeout.
    const busy = postgres({ url: pg.url, maxConnections: 10, minConnections: 10, connectTimeout: 20 });
    await busy.init(ctx);
    const admin = postgresjs(pg.url, { max: 1, onnotice: () => {} });
    try {
      for (let round = 0; round < 3; round++) {
        let stop = false;
        const worker = async () => {
          while (!stop) await raw`select pg_sleep(0.005)`.execute(busy.db()).catch(() => {});
        };
        const workers = Array.from({ length: 6 }, worker);
        await Bun.sleep(200);
        await admin`select pg_terminate_backend(pid) from pg_stat_activity
          where pid <> pg_backend_pid() and application_name = 'aurora' and backend_type = 'client backend'`;
        await Bun.sleep(300);
        stop = true;
        await Promise.all(workers);
        await Bun.sleep(1000);
        const started = performance.now();
        const later = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2
              ? busy.db().selectFrom("repo_root").select("did").execute()
              : busy.transaction((tx) => raw`select pg_sleep(0.02)`.execute(tx))
            ).then(() => "ok", (err: Error) => err.message),
          ),
        );
        expect(later).toEqual(Array(20).fill("ok"));
        expect(performance.now() - started).toBeLessThan(3000);
      }
    } finally {
      await admin.end();
      await busy.close();
    }
  }, 60_000);

  test("a writer waiting longer than lockTimeout gets a 503-style busy error", async () => {
    const impatient = postgres({ ...options(), minConnections: 1, lockTimeout: 1 });
    await impatient.init(ctx);
    try {
      const lock = await holdRepoLock(plugin, "did:plc:busy");
      const { err, ms } = await failure(() => impatient.withRepoLock("did:plc:busy", async () => {}));
      await lock.release();
      expect(err).toBeInstanceOf(DbError);
      expect((err as DbError).reason).toBe("busy");
      expect((err as DbError).unavailable).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(900);
    } finally {
      await impatient.close();
    }
  });

  test("end to end: /health/ready is 503 naming db-postgres while PostgreSQL is down, 200 after", async () => {
    const server = await testContext({ db: postgres(options()) });
    try {
      expect((await server.request("/health/ready")).status).toBe(200);
      await pg.kill();
      // Readiness answers are reused for a moment (src/http/health.ts): the outage shows within READINESS_CACHE_MS.
      await eventually(
        async () => (await server.request("/health/ready")).status === 503,
        { timeoutMs: 5000, what: "readiness during the outage" },
      );
      const down = await server.request("/health/ready");
      expect(down.status).toBe(503);
      const body = (await down.json()) as { checks: Record<string, string> };
      expect(body.checks["db-postgres"]).toBe("unavailable");
      // An API call that needs the database: a clean 503, no stack trace, no hang.
      const started = performance.now();
      const call = await server.request("/xrpc/com.atproto.sync.listRepos");
      expect(call.status).toBe(503);
      expect(await call.json()).toEqual({ error: "ServiceUnavailable", message: expect.any(String) });
      expect(performance.now() - started).toBeLessThan(5000);
      await pg.start();
      await eventually(
        async () => (await server.request("/health/ready")).status === 200,
        { timeoutMs: 5000, what: "readiness after restart" },
      );
      await eventually(
        async () => (await server.request("/xrpc/com.atproto.sync.listRepos")).status === 200,
        { timeoutMs: 5000, what: "API after restart" },
      );
    } finally {
      await server.close();
    }
  }, 30_000);
});
