/**
 * Aurora's config. As shipped it reads the environment (the reference PDS's
 * PDS_* variables and the Scalability Guide's DATABASE_*, POSTGRES_*,
 * PDS_BLOBSTORE_*, CACHE_*, REDIS_*, RATE_LIMIT_* — see README), so the same
 * file serves SQLite + disk on a laptop and PostgreSQL + Redis + S3 in
 * production. Edit it to pin backends in code instead, for example:
 *
 *   import { defineConfig, fromEnv, postgres, s3, redis } from "aurora";
 *   export default defineConfig({
 *     ...fromEnv(),
 *     db: postgres({ url: "postgresql://aurora@db:5432/aurora" }),
 *     blobs: s3({ bucket: "aurora-blobs", region: "eu-west-1" }),
 *     cache: redis({ url: "redis://cache:6379" }),
 *   });
 */
import { defineConfig, fromEnv } from "aurora";

export default defineConfig(fromEnv());
