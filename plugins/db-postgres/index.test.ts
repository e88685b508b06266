import postgresjs from "postgres";
import { databaseConformance } from "@test/conformance/database";
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
