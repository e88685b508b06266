import postgresjs from "postgres";
import { redis } from "@plugins/cache-redis";
import { postgres } from "@plugins/db-postgres";
import { accountFlows } from "./accounts-flow";

const base = process.env.AURORA_TEST_POSTGRES_URL;
const redisUrl = process.env.AURORA_TEST_REDIS_URL;
if (!base || !redisUrl) throw new Error("AURORA_TEST_POSTGRES_URL / AURORA_TEST_REDIS_URL unset: run via scripts/with-services.ts");

/** A database and a Redis key prefix of their own, so concurrent runs on the shared services never collide. */
const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
const name = `aurora_accounts_${id}`;
const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
const admin = postgresjs(base, { max: 1, onnotice: () => {} });

// Redis in front: session checks are cached, so revocation must reach every node through it.
accountFlows("postgres + redis, two nodes", {
  db: () => postgres({ url, maxConnections: 5, minConnections: 1 }),
  cache: () => redis({ url: redisUrl, keyPrefix: `aurora-accounts-${id}:` }),
  prepare: async () => {
    await admin.unsafe(`create database ${name}`);
  },
  dispose: async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  },
  multiNode: true,
});
