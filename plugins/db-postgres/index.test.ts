import { expect, test } from "bun:test";
import postgresjs from "postgres";
import { databaseConformance, pluginContext } from "@test/conformance/database";
import { DbError, migrateToLatest } from "@/plugin-kit";
import { errorResponse } from "@/http/respond";
import { postgres } from "./index";

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
