/**
 * Issue 20's fault suite (`npm run test:faults`): the 3-node cluster on its own
 * PostgreSQL, Redis and s3rver, under a bounded load (load.ts), takes one fault
 * per test, repeatedly where cheap; afterwards check.ts holds it to its
 * promises and the figures go to the results file (results.ts) that
 * render-table.ts turns into docs/RELIABILITY.md's table.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgresjs from "postgres";
import { signUp } from "@test/cluster/helpers";
import { eventually } from "@test/support/eventually";
import {
  afterRecovery,
  checkBlobs,
  checkChains,
  checksDeadline,
  checkFirehose,
  checkLedger,
  checkOrphans,
  checkRepos,
  cleanAfterRecoveryCheck,
  cleanErrorsCheck,
  errorsByStatus,
  failures,
  recoverySeconds,
  setProbeTargets,
} from "./check";
import { Load, type LoadAccount } from "./load";
import { recordResult } from "./results";
import { type Rig, startRig } from "./rig";

/** Each test's bound: warm-up, the faults, recovery, checks. */
const TEST_TIMEOUT_MS = 150_000;

let rig: Rig;
let accounts: LoadAccount[];
beforeAll(async () => {
  rig = await startRig();
  setProbeTargets(rig);
  accounts = await Promise.all(
    ["ana", "ben", "cy", "dee"].map(async (name) => {
      const a = await signUp(rig.cluster, name);
      return { did: a.did, token: a.agent.session!.accessJwt };
    }),
  );
}, 180_000);
afterAll(() => rig?.stop(), 60_000);

async function maxSeq(): Promise<number> {
  const sql = postgresjs(rig.cluster.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    return Number((await sql`select coalesce(max(seq), 0)::int as max from repo_seq`)[0]!.max);
  } finally {
    await sql.end();
  }
}

/**
 * Run the load, let `inject` do its faults (it marks each with
 * load.faultStarted/faultEnded and returns how many it did), wait for
 * writes to flow again, stop the load, check, record, assert.
 */
async function underLoad(id: string, fault: string, inject: (load: Load) => Promise<number>, note?: string): Promise<void> {
  const cursor = await maxSeq();
  const started = Date.now();
  const s3ExitsBefore = rig.s3.unaskedExits;
  const load = new Load({ url: rig.url, port: rig.cluster.port, accounts, cursor });
  let injections = 0;
  try {
    await eventually(() => load.ledger.length >= 12, { timeoutMs: 20_000, intervalMs: 100, what: "12 writes before the fault" });
    injections = await inject(load);
    const end = load.windows.at(-1)!.end;
    // Recovered: writes acknowledged again after the last fault, then a little more traffic.
    await eventually(() => load.ackedSince(end) >= 12, { timeoutMs: 30_000, intervalMs: 100, what: "12 writes after the fault" }).catch(() => {});
    await Bun.sleep(1000);
  } finally {
    await load.stop();
  }
  const durationSeconds = (Date.now() - started) / 1000;
  const report = { ledger: load.ledger, samples: load.samples, subscribers: load.subscribers, windows: load.windows };
  const dids = accounts.map((a) => a.did);
  const retriedBefore = afterRecovery.length;
  checksDeadline(45_000);
  const [ledger, repos, firehose, blobs, orphans] = await Promise.all([
    checkLedger(rig.url, report.ledger),
    checkRepos(rig, dids, report.ledger),
    checkFirehose(rig, report, cursor),
    checkBlobs(rig.url, report.ledger),
    checkOrphans(rig),
  ]);
  for (const s of report.subscribers) s.close();
  const checks = [ledger.check, repos.check, checkChains(report, repos.revs), firehose, blobs, orphans, cleanErrorsCheck(report.samples), cleanAfterRecoveryCheck(retriedBefore, rig.s3.outages)];
  const recovery = recoverySeconds(report);
  checks.push({ name: "recovered (a write acknowledged after each fault)", ok: recovery !== null });
  const gaps = firehose.ok ? 0 : report.subscribers.length;
  recordResult({
    id,
    fault,
    injections,
    durationSeconds,
    requests: report.samples.length,
    errorsByStatus: errorsByStatus(report.samples),
    failures: failures(report.samples).length,
    acknowledgedWrites: report.ledger.length,
    lostWrites: ledger.lost.length,
    recoverySeconds: recovery,
    firehose: {
      subscribers: report.subscribers.length,
      events: report.subscribers.reduce((n, s) => n + s.seqs.length, 0),
      gaps,
      errors: report.subscribers.reduce((n, s) => n + s.errors.length, 0),
    },
    checks,
    ...(note || rig.s3.unaskedExits > s3ExitsBefore
      ? { note: [note, rig.s3.unaskedExits > s3ExitsBefore ? `s3rver exited by itself ${rig.s3.unaskedExits - s3ExitsBefore}× (restarted by the rig)` : ""].filter(Boolean).join("; ") }
      : {}),
    at: new Date().toISOString(),
  });
  const keep = process.env.AURORA_FAULT_LOGS;
  if (keep) {
    mkdirSync(keep, { recursive: true });
    writeFileSync(join(keep, `${id}-errors.json`), JSON.stringify(report.samples.filter((s) => s.outcome !== 200 || s.detail), null, 1));
  }
  const failed = checks.filter((c) => !c.ok);
  if (failed.length) {
    const seen = new Set<string>();
    // One line per distinct message: the warnings say which backend a node found unavailable.
    const logs = rig.grepLogs(/"level":"(warn|error|fatal)"/).filter((l) => {
      const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? l;
      return !seen.has(msg) && seen.add(msg);
    });
    console.error(`[faults] ${id}: ${failed.map((c) => `${c.name}: ${c.detail ?? "no"}`).join("\n  ")}\n  node log lines:\n  ${logs.join("\n  ")}`);
  }
  expect(failed).toEqual([]);
}

/** Mark a fault window around `during`. */
async function window(load: Load, during: () => Promise<void>): Promise<void> {
  load.faultStarted();
  try {
    await during();
  } finally {
    load.faultEnded();
  }
}

test("SIGKILL of a node, restarted: twice, two different nodes", async () => {
  await underLoad("node-sigkill", "SIGKILL of a node (restart)", async (load) => {
    for (const node of [rig.nodes[1]!, rig.nodes[2]!]) {
      await window(load, async () => {
        await node.crash();
        await Bun.sleep(3000);
        await node.start();
      });
      await Bun.sleep(3000);
    }
    return 2;
  });
}, TEST_TIMEOUT_MS);

test("SIGSTOP of a node for 10 s, then SIGCONT", async () => {
  await underLoad("node-sigstop", "SIGSTOP/SIGCONT of a node (10 s hang)", async (load) => {
    const node = rig.nodes[1]!;
    await window(load, async () => {
      node.stop();
      try {
        await Bun.sleep(10_000);
      } finally {
        node.continue();
      }
    });
    return 1;
  });
}, TEST_TIMEOUT_MS);

test("PostgreSQL restarted (immediate stop, start): twice", async () => {
  await underLoad("pg-restart", "PostgreSQL restart (immediate)", async (load) => {
    for (let i = 0; i < 2; i++) {
      await window(load, () => rig.pg.restart());
      await Bun.sleep(4000);
    }
    return 2;
  });
}, TEST_TIMEOUT_MS);

test("PostgreSQL connections cut (pg_terminate_backend): three times", async () => {
  let cut = 0;
  await underLoad("pg-terminate", "PostgreSQL connections killed (pg_terminate_backend)", async (load) => {
    for (let i = 0; i < 3; i++) {
      await window(load, async () => {
        cut += await rig.pg.terminateBackends();
      });
      await Bun.sleep(3000);
    }
    return 3;
  });
  expect(cut).toBeGreaterThan(0);
}, TEST_TIMEOUT_MS);

test("Redis killed for 5 s and restarted empty: twice", async () => {
  await underLoad("redis-kill", "Redis killed (5 s) and restarted empty", async (load) => {
    for (let i = 0; i < 2; i++) {
      await window(load, async () => {
        await rig.redis.kill();
        await Bun.sleep(5000);
        await rig.redis.start();
      });
      await Bun.sleep(3000);
    }
    return 2;
  });
}, TEST_TIMEOUT_MS);

test("s3rver killed for 5 s and restarted: twice", async () => {
  await underLoad("s3-kill", "s3rver killed (5 s) and restarted", async (load) => {
    for (let i = 0; i < 2; i++) {
      await window(load, async () => {
        await rig.s3.kill();
        await Bun.sleep(5000);
        await rig.s3.start();
      });
      await Bun.sleep(3000);
    }
    return 2;
  });
}, TEST_TIMEOUT_MS);
