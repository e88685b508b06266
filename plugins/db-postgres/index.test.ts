import { expect, test } from "bun:test";
import postgresjs from "postgres";
import { databaseConformance, pluginContext } from "@test/conformance/database";
import { DbError, migrateToLatest } from "@/plugin-kit";
import { errorResponse } from "@/http/respond";
import { sql } from "kysely";
import { postgres } from "./index";
import { connectionTarget } from "./pool";
import { metricSample } from "@test/support/metrics";

const base = process.env.AURORA_TEST_POSTGRES_URL;
if (!base) throw new Error("AURORA_TEST_POSTGRES_URL unset: run via scripts/with-services.ts");

/** A database of its own per run, so concurrent runs on the shared server never collide. */
const name = `aurora_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
const admin = postgresjs(base, { max: 1, onnotice: () => {} });

databaseConformance("db-postgres (shared server, fresh database)", {
  make: () => postgres({ url, maxConnections: 20, minConnections: 2, connectTimeout: 5 }),
  prepare: async () => {
    await admin.unsafe(`create database ${name}`);
  },
  dispose: async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  },
});


test("a value PostgreSQL cannot hold (a NUL byte in text) is DbError reason invalid, which the error mapper answers 400", async () => {
  const ctx = pluginContext();
  const own = `${name}_nul`;
  const server = postgresjs(base, { max: 1, onnotice: () => {} });
  await server.unsafe(`create database ${own}`);
  const plugin = postgres({ url: Object.assign(new URL(base), { pathname: `/${own}` }).toString(), maxConnections: 2, minConnections: 1, connectTimeout: 5 });
  try {
    await plugin.init(ctx);
    await migrateToLatest(plugin);
    const err = await plugin.db().selectFrom("account").select("did").where("handle", "=", "a\u0000b").execute().catch((e) => e);
    expect(err).toBeInstanceOf(DbError);
    expect((err as DbError).reason).toBe("invalid");
    const res = errorResponse(err, ctx.log);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "InvalidRequest", message: "Invalid input" });
  } finally {
    await plugin.close();
    await server.unsafe(`drop database if exists ${own} with (force)`);
    await server.end();
    ctx.cleanup();
  }
});

test("connectionTarget reads libpq's Unix-socket forms and leaves every other URL as it is", () => {
  expect(connectionTarget("postgresql://u:p@localhost/aurora?host=/run/postgresql&sslmode=disable")).toEqual({
    url: "postgresql://u:p@localhost/aurora?sslmode=disable",
    path: "/run/postgresql/.s.PGSQL.5432",
  });
  expect(connectionTarget("postgresql://%2Fvar%2Frun%2Fpostgresql:5433/aurora")).toEqual({
    url: "postgresql://localhost:5433/aurora",
    path: "/var/run/postgresql/.s.PGSQL.5433",
  });
  expect(connectionTarget("postgresql:///aurora?host=/tmp/")).toEqual({ url: "postgresql://localhost/aurora", path: "/tmp/.s.PGSQL.5432" });
  for (const plain of ["postgresql://u:p@db.example:5432/aurora", "postgresql://u@localhost/aurora?host=db.example", "not a url"]) {
    expect(connectionTarget(plain)).toEqual({ url: plain });
  }
});

test("db-postgres connects over the Unix socket the URL names (queries and LISTEN/NOTIFY), not over TCP", async () => {
  const own = `${name}_uds`;
  const server = postgresjs(base, { max: 1, onnotice: () => {} });
  const [setting] = await server.unsafe<{ unix_socket_directories: string }[]>("show unix_socket_directories");
  const dir = setting!.unix_socket_directories.split(",")[0]!.trim();
  await server.unsafe(`create database ${own}`);
  const port = new URL(base).port;
  const ctx = pluginContext();
  for (const url of [`postgresql://postgres@localhost:${port}/${own}?host=${dir}`, `postgresql://postgres@${encodeURIComponent(dir)}:${port}/${own}`]) {
    const plugin = postgres({ url, maxConnections: 2, minConnections: 1, connectTimeout: 5 });
    try {
      await plugin.init(ctx);
      // inet_server_addr() is null on a Unix-socket connection and 127.0.0.1 over TCP.
      const { rows } = await sql<{ addr: string | null }>`select inet_server_addr()::text as addr`.execute(plugin.db());
      expect(rows).toEqual([{ addr: null }]);
      let hear!: (payload: string | null) => void;
      const heard = new Promise<string | null>((resolve) => (hear = resolve));
      await plugin.listen("uds_probe", (payload) => hear(payload));
      await plugin.notify("uds_probe", "over the socket");
      expect(await heard).toBe("over the socket");
    } finally {
      await plugin.close();
    }
  }
  ctx.cleanup();
  await server.unsafe(`drop database if exists ${own} with (force)`);
  await server.end();
});

test("streamed queries (getRepo's cursor) follow preparedStatements: none is left named on the connection when it is off", async () => {
  const ctx = pluginContext();
  const own = `${name}_cursor`;
  const server = postgresjs(base, { max: 1, onnotice: () => {} });
  await server.unsafe(`create database ${own}`);
  const named = async (preparedStatements: boolean) => {
    // The catalogue read after the stream is in the same snapshot, so on the stream's session.
    const plugin = postgres({ url: Object.assign(new URL(base), { pathname: `/${own}` }).toString(), maxConnections: 3, minConnections: 1, connectTimeout: 5, preparedStatements });
    try {
      await plugin.init(ctx);
      await migrateToLatest(plugin);
      return await plugin.snapshot(async (tx) => {
        let rows = 0;
        for await (const _ of tx.selectFrom("account").select("did").where("did", ">", "did:").stream(10)) rows++;
        expect(rows).toBe(0);
        // postgres.js names a few statements of its own (its type lookup, a transaction's commit): only ours count.
        const { rows: left } = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like '%from "account"%'`.execute(tx);
        return left[0]!.n;
      });
    } finally {
      await plugin.close();
    }
  };
  try {
    expect(await named(false)).toBe(0);
    expect(await named(true)).toBeGreaterThan(0);
  } finally {
    await server.unsafe(`drop database if exists ${own} with (force)`);
    await server.end();
    ctx.cleanup();
  }
});

test("statements outside a transaction share statementConnections connections, pipelined, and a failing one fails alone; transactions have their own", async () => {
  const ctx = pluginContext();
  const own = `${name}_pipeline`;
  const server = postgresjs(base, { max: 1, onnotice: () => {} });
  await server.unsafe(`create database ${own}`);
  const plugin = postgres({ url: Object.assign(new URL(base), { pathname: `/${own}` }).toString(), maxConnections: 10, statementConnections: 2, minConnections: 1, connectTimeout: 5 });
  try {
    await plugin.init(ctx);
    const pid = async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(plugin.db())).rows[0]!.pid;
    // A transaction holds its connection while 60 statements, one of them failing, run beside it.
    let txPid = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tx = plugin.transaction(async (t) => {
      txPid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(t)).rows[0]!.pid;
      await held;
    });
    while (txPid === 0) await Bun.sleep(5);
    const failing = sql`select 1 / 0 as never`.execute(plugin.db()).catch((err) => err);
    const pids = await Promise.all(Array.from({ length: 60 }, pid));
    const err = await failing;
    release();
    await tx;
    expect(new Set(pids).size).toBeLessThanOrEqual(2);
    expect(pids).not.toContain(txPid);
    // aurora_db_connections counts connections, not statements: ten sleeping statements share the two.
    const sleeping = Promise.all(Array.from({ length: 10 }, () => sql`select pg_sleep(0.3)`.execute(plugin.db())));
    await Bun.sleep(100);
    const active = await metricSample(ctx.metrics, 'aurora_db_connections{state="active"}');
    const total = await metricSample(ctx.metrics, 'aurora_db_connections{state="total"}');
    await sleeping;
    expect(active).toBe(2);
    expect(total).toBeLessThanOrEqual(10);
    expect(await metricSample(ctx.metrics, 'aurora_db_connections{state="active"}')).toBe(0);
    expect(err).toBeInstanceOf(DbError);
    expect((err as DbError).reason).toBe("invalid");
    // At most half of the connections go to statements, and at least two are left for transactions.
    expect(postgres({ url, maxConnections: 4, statementConnections: 9 }).describe()).toMatchObject({ maxConnections: 4, statementConnections: 2 });
    expect(postgres({ url, maxConnections: 2 }).describe()).toMatchObject({ maxConnections: 3, statementConnections: 1 });
  } finally {
    await plugin.close();
    await server.unsafe(`drop database if exists ${own} with (force)`);
    await server.end();
    ctx.cleanup();
  }
});
