import { redis } from "@plugins/cache-redis";
import { postgres } from "@plugins/db-postgres";
import { freshPostgres } from "@test/support/firehose";
import { emailFlows } from "./email-flow";

const redisUrl = process.env.AURORA_TEST_REDIS_URL;
if (!redisUrl) throw new Error("AURORA_TEST_REDIS_URL unset: run via scripts/with-services.ts");
const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
let pg: Awaited<ReturnType<typeof freshPostgres>>;

// Two nodes behind one database and Redis: a token requested on one is used on the other.
emailFlows("postgres + redis, two nodes", {
  db: () => postgres({ url: pg.url, maxConnections: 5, minConnections: 1 }),
  cache: () => redis({ url: redisUrl, keyPrefix: `aurora-email-${id}:` }),
  prepare: async () => {
    pg = await freshPostgres();
  },
  dispose: () => pg.drop(),
  multiNode: true,
});
