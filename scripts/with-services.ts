/**
 * Start the shared test services (PostgreSQL, Redis, s3rver), run a command
 * with their URLs in the environment, stop them, and exit with the
 * command's code. Usage: bun scripts/with-services.ts -- bun test ./test/
 */
import { type Service, S3_BUCKET, startPostgres, startRedis, startS3 } from "@test/support/services";

// Bun may or may not pass the "--" separator through in argv; accept both.
const args = process.argv.slice(2);
const command = args[0] === "--" ? args.slice(1) : args;
if (command.length === 0) {
  console.error("usage: bun scripts/with-services.ts -- COMMAND...");
  process.exit(2);
}
if (process.env.AURORA_TEST_SERVICES === "1") {
  console.error("[with-services] refusing to nest: services are already running for this process tree");
  process.exit(2);
}

const services: Service[] = [];
let code = 1;
try {
  // Record each service as soon as it is up, so a failure of another still stops it.
  const started = <T extends Service>(s: T) => (services.push(s), s);
  const [pg, redis, s3] = await Promise.all([startPostgres().then(started), startRedis().then(started), startS3({ respawn: true }).then(started)]);
  console.error(`[with-services] postgres ${pg.url} · redis ${redis.url} · s3rver ${s3.url}`);
  const child = Bun.spawn(command, {
    stdio: ["inherit", "inherit", "inherit"],
    env: {
      ...process.env,
      AURORA_TEST_SERVICES: "1",
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
