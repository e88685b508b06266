/**
 * Reproduction of what the pg_terminate_backend fault found, without Aurora:
 * a plain postgres.js pool (10 connections, 4 busy workers) has every backend
 * terminated, and 3 s later, with the server healthy, ten queries are sent.
 * Some fail with "terminating connection due to administrator command", and
 * some hang until connect_timeout (30 s by default, then CONNECT_TIMEOUT).
 * The same happens under Node 20 (postgres.js 3.4.9), so it is the driver,
 * not Bun. Run: bun test/faults/pg-dead-connections.ts [connectTimeoutSeconds] [--guarded]
 *
 * Why (read in postgres.js's connection.js): the failures are the dead
 * session's 57P01, kept by the connection and replayed on the first query
 * after it reconnects, before that query is sent; the hangs are a write
 * batch and cancelled flush handle left by a close that came just after a
 * query was queued, so the reconnect's StartupMessage is never flushed.
 * `--guarded` gives the pool plugins/db-postgres's socket (socket.ts), which
 * removes the hangs; the plugin sends again a statement that got the replayed 57P01 (pool.ts
 * retryPolicy), which this plain pool does not.
 */
import postgres from "postgres";
import { guardedSocket } from "@plugins/db-postgres/socket";
import { startPostgres } from "@test/support/services";

const connectTimeout = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 30);
const guarded = process.argv.includes("--guarded");
const pg = await startPostgres();
const t0 = Date.now();
const log = (...parts: unknown[]) => console.log(((Date.now() - t0) / 1000).toFixed(1).padStart(5), ...parts);

/** The query's outcome and how long it took; "still waiting" after `limitMs`. */
async function timed(query: Promise<unknown>, limitMs: number): Promise<string> {
  const start = Date.now();
  const limit = Bun.sleep(limitMs).then(() => `still waiting after ${limitMs} ms`);
  const outcome = query.then(
    () => `ok ${Date.now() - start} ms`,
    (err: Error) => `${err.message.slice(0, 50)} after ${Date.now() - start} ms`,
  );
  return Promise.race([outcome, limit]);
}

try {
  const sql = postgres(pg.url, { max: 10, connect_timeout: connectTimeout, onnotice: () => {}, ...(guarded ? { socket: guardedSocket() } : {}) } as postgres.Options<{}>);
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  await Promise.all(Array.from({ length: 10 }, () => sql`select pg_sleep(0.05)`));
  let stop = false;
  let failed = 0;
  const worker = async () => {
    while (!stop) await sql`select pg_sleep(0.01)`.catch(() => failed++);
  };
  const workers = Array.from({ length: 4 }, worker);
  await Bun.sleep(300);
  const cut = await admin`select pg_terminate_backend(pid) from pg_stat_activity
    where pid <> pg_backend_pid() and backend_type = 'client backend'`;
  await Bun.sleep(1000);
  stop = true;
  await Promise.race([Promise.all(workers), Bun.sleep(10_000)]);
  log(`${cut.length} backends terminated; ${failed} queries failed while it happened`);
  await Bun.sleep(3000);
  const later = await Promise.all(Array.from({ length: 10 }, () => timed(sql`select pg_sleep(0.05)`, (connectTimeout + 5) * 1000)));
  log("ten queries 3 s later, the server healthy:");
  for (const line of later) log(`  ${line}`);
  process.exitCode = later.every((l) => l.startsWith("ok")) ? 0 : 1;
  await Promise.race([Promise.all([sql.end({ timeout: 1 }), admin.end({ timeout: 1 })]), Bun.sleep(3000)]);
} finally {
  await pg.stop();
}
