/**
 * CPU per iteration over a long run of statements on PostgreSQL, through
 * db-postgres (two statements outside a transaction and one transaction per
 * iteration, concurrently, on a pool of 20 with 10 open), round after round;
 * with `--plain`, the same load on one postgres.js pool of 20, the driver's
 * own. A flat line is what db-postgres's clients of one connection each
 * (plugins/db-postgres/clients.ts) are for: postgres.js's pool costs more
 * with every query it has served.
 *
 *   DATABASE_URL=postgresql://... bun bench/pg-clients.ts [--plain] [--rounds 6] [--iterations 20000]
 */
import { parseArgs } from "node:util";
import { sql } from "kysely";
import postgresjs from "postgres";
import { pluginContext } from "@test/conformance/database";
import { postgres } from "../plugins/db-postgres/index";

const { values } = parseArgs({
  options: { plain: { type: "boolean" }, rounds: { type: "string", default: "6" }, iterations: { type: "string", default: "20000" } },
});
const url = process.env.DATABASE_URL;
const rounds = Number(values.rounds);
const iterations = Number(values.iterations);
if (!url || !(rounds > 0 && rounds <= 50 && iterations > 0 && iterations <= 200_000)) {
  console.error("usage: DATABASE_URL=postgresql://... bun bench/pg-clients.ts [--plain] [--rounds 1..50] [--iterations 1..200000]");
  process.exit(2);
}

let iteration: () => Promise<unknown>;
let close: () => Promise<void>;
if (values.plain) {
  const pool = postgresjs(url, { max: 20, onnotice: () => {} });
  await Promise.all(Array.from({ length: 10 }, () => pool`select 1`));
  iteration = () => Promise.all([pool`select 1`, pool`select 1`, pool.begin((tx) => tx`select 1`)]);
  close = () => pool.end({ timeout: 1 });
} else {
  const ctx = pluginContext();
  const plugin = postgres({ url, maxConnections: 20, minConnections: 10 });
  await plugin.init(ctx);
  const one = sql`select 1`;
  iteration = () => Promise.all([one.execute(plugin.db()), one.execute(plugin.db()), plugin.transaction((tx) => one.execute(tx))]);
  close = async () => {
    await plugin.close();
    ctx.cleanup();
  };
}

const results: { round: number; iterations: number; cpuUsPerIteration: number; wallUsPerIteration: number }[] = [];
for (let round = 1; round <= rounds; round++) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await iteration();
  const used = process.cpuUsage(cpu);
  const result = {
    round,
    iterations: round * iterations,
    cpuUsPerIteration: +((used.user + used.system) / iterations).toFixed(1),
    wallUsPerIteration: +(((performance.now() - started) * 1000) / iterations).toFixed(1),
  };
  results.push(result);
  console.error(JSON.stringify(result));
}
await close();
console.log(JSON.stringify({ pool: values.plain ? "postgres.js" : "db-postgres", results }));
