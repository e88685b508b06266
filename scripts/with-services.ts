/**
 * Start the shared test services (PostgreSQL, Redis, s3rver), run a command
 * with their URLs in the environment, stop them, and exit with the
 * command's code. Usage: bun scripts/with-services.ts -- bun test ./test/
 */
import { type Service, S3_BUCKET, startPostgres, startRedis, startS3 } from "../test/support/services";

const command = process.argv.slice(process.argv.indexOf("--") + 1);
if (command.length === 0) {
  console.error("usage: bun scripts/with-services.ts -- COMMAND...");
  process.exit(2);
}

const services: Service[] = [];
let code = 1;
try {
  const [pg, redis, s3] = await Promise.all([startPostgres(), startRedis(), startS3()]);
  services.push(pg, redis, s3);
  console.error(`[with-services] postgres ${pg.url} · redis ${redis.url} · s3rver ${s3.url}`);
  const child = Bun.spawn(command, {
    stdio: ["inherit", "inherit", "inherit"],
    env: {
      ...process.env,
      AURORA_TEST_POSTGRES_URL: pg.url,
      AURORA_TEST_REDIS_URL: redis.url,
      AURORA_TEST_S3_ENDPOINT: s3.url,
      AURORA_TEST_S3_BUCKET: S3_BUCKET,
    },
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
  code = await child.exited;
} catch (err) {
  console.error(`[with-services] ${(err as Error).message}`);
} finally {
  await Promise.allSettled(services.map((s) => s.stop()));
}
process.exit(code);
