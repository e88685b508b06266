import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLines } from "../lib/lines";
import { type Latency, summarize } from "../lib/load";
import { machineCpuSeconds, ownCpuSeconds, totalCpuSeconds } from "../lib/proc";
import { type Account, postJson } from "../lib/xrpc";
import { nodePids, type Server } from "../targets/server";
import { COLLECTION, postRecord } from "./records";
import type { SubscriberReport } from "./subscriber-process";

export interface FanOutOptions {
  subscribers: number;
  /** Commits per second, paced (open loop), so latency measures delivery rather than a write queue. */
  writesPerSecond: number;
  maxMs: number;
  /** Writes in flight at most; beyond this the writer waits instead of piling up. */
  maxInFlight: number;
}

export interface FanOutResult {
  subscribers: number;
  /** Subscriber processes the sockets were spread over. */
  clientProcesses: number;
  /** Subscribers that decoded every frame for the latency figures (1 in SAMPLE_EVERY). */
  sampledSubscribers: number;
  commits: number;
  /** #commit frames received across all subscribers, of `commits × subscribers`. */
  delivered: number;
  expected: number;
  /** Subscribers that received every commit. */
  completeSubscribers: number;
  /** Every frame received, by type (`#commit`, `#identity`, `error <name>`, ...), to tell a silent stream from a mismatched one. */
  frameTypes: Record<string, number>;
  /** Frames the server sent per second over the run (all subscribers). */
  framesPerSecond: number;
  /** From sending createRecord to a sampled subscriber holding the decoded #commit frame, ms. */
  endToEndMs: Latency;
  /** From the event's own `time` field to a sampled subscriber holding it, ms (millisecond clock). */
  deliveryMs: Latency;
  /** Writer plus subscriber processes, in cores. */
  clientCpu: number;
  serverCpu: number;
  /** Server CPU per frame delivered, ms. */
  serverCpuMsPerFrame: number;
  machineCpu: number;
  closedEarly: number;
  firstError?: string;
}

/** Sockets per subscriber process: a few hundred is what one Bun process holds comfortably alongside decoding. */
const PER_PROCESS = 250;
const SAMPLE_EVERY = 10;
const OPEN_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 10_000;
const REPORT_TIMEOUT_MS = 15_000;
const SUBSCRIBER_SCRIPT = join(import.meta.dir, "subscriber-process.ts");

/**
 * N live subscribers on com.atproto.sync.subscribeRepos, spread over
 * subscriber processes, while paced createRecord calls go in. Every frame of
 * every subscriber is counted; one in SAMPLE_EVERY decodes every frame for
 * the latency figures. Bounded: the writes stop at `maxMs`, the drain after
 * DRAIN_TIMEOUT_MS more.
 */
export async function fanOut(server: Server, accounts: Account[], opts: FanOutOptions): Promise<FanOutResult> {
  const wsUrl = `${server.url.replace(/^http/, "ws")}/xrpc/com.atproto.sync.subscribeRepos`;
  const sizes: number[] = [];
  for (let left = opts.subscribers; left > 0; left -= PER_PROCESS) sizes.push(Math.min(PER_PROCESS, left));
  const dir = mkdtempSync(join(tmpdir(), "aurora-bench-subscribers-"));
  const clients = sizes.map((n, i) => {
    const reportFile = join(dir, `report-${i}.json`);
    const child = Bun.spawn([process.execPath, SUBSCRIBER_SCRIPT, wsUrl, String(n), String(SAMPLE_EVERY), reportFile], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    return { child, lines: readLines(child.stdout), reportFile };
  });
  const killAll = () => {
    for (const c of clients) c.child.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await withTimeout(
      Promise.all(
        clients.map(async (c) => {
          const first = await c.lines.next();
          if (first.value !== "ready") throw new Error(`subscribeRepos: a subscriber process failed: ${(await new Response(c.child.stderr).text()).slice(0, 300)}`);
        }),
      ),
      OPEN_TIMEOUT_MS,
      `subscribeRepos: ${opts.subscribers} subscribers not open within ${OPEN_TIMEOUT_MS / 1000} s`,
    );
  } catch (err) {
    killAll();
    throw err;
  }

  const pids = nodePids(server);
  const sent = new Map<string, number>();
  let firstError: string | undefined;
  const cpu0 = ownCpuSeconds();
  const serverCpu0 = totalCpuSeconds(pids);
  const machineCpu0 = machineCpuSeconds();
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let k = 0; performance.now() - t0 < opts.maxMs; k++) {
    const due = t0 + (k * 1000) / opts.writesPerSecond;
    if (due > performance.now()) await Bun.sleep(due - performance.now());
    if (inFlight.size >= opts.maxInFlight) await Promise.race(inFlight);
    const account = accounts[k % accounts.length]!;
    const sentAt = performance.timeOrigin + performance.now();
    const write = postJson<{ commit?: { rev: string } }>(
      server.url,
      "com.atproto.repo.createRecord",
      { repo: account.did, collection: COLLECTION, record: postRecord(k) },
      account.authorization,
    )
      .then((out) => {
        if (!out.commit?.rev) throw new Error("createRecord returned no commit.rev");
        sent.set(`${account.did} ${out.commit.rev}`, sentAt);
      })
      .catch((err) => {
        firstError ??= (err as Error).message;
      })
      .finally(() => inFlight.delete(write));
    inFlight.add(write);
  }
  await Promise.all(inFlight);
  const writeSeconds = (performance.now() - t0) / 1000;
  // The writer knows what was sent; the subscribers report only at the end, so wait for the server to go quiet.
  const drainBy = performance.now() + DRAIN_TIMEOUT_MS;
  await Bun.sleep(500);
  let last = totalCpuSeconds(pids);
  while (performance.now() < drainBy) {
    await Bun.sleep(250);
    const now = totalCpuSeconds(pids);
    if (now - last < 0.01) break;
    last = now;
  }
  const seconds = (performance.now() - t0) / 1000;
  const serverCpu = totalCpuSeconds(pids) - serverCpu0;
  const machineCpu = (machineCpuSeconds() - machineCpu0) / seconds;
  const writerCpu = ownCpuSeconds() - cpu0;

  let reports: SubscriberReport[];
  try {
    reports = await withTimeout(
      Promise.all(
        clients.map(async (c) => {
          c.child.stdin.write("done\n");
          await c.child.stdin.flush();
          if ((await c.lines.next()).value !== "reported") throw new Error("subscribeRepos: a subscriber process ended without its report");
          return JSON.parse(readFileSync(c.reportFile, "utf8")) as SubscriberReport;
        }),
      ),
      REPORT_TIMEOUT_MS,
      "subscribeRepos: a subscriber process did not report",
    );
  } finally {
    killAll();
  }

  if (sent.size === 0) throw new Error(`no createRecord succeeded: ${firstError}`);
  const frameTypes: Record<string, number> = {};
  const perSocket: number[] = [];
  const endToEnd: number[] = [];
  const delivery: number[] = [];
  let sampledSubscribers = 0;
  let closedEarly = 0;
  let subscriberCpu = 0;
  for (const r of reports) {
    for (const [type, n] of Object.entries(r.frameTypes)) frameTypes[type] = (frameTypes[type] ?? 0) + n;
    perSocket.push(...r.commitsPerSocket);
    sampledSubscribers += Math.ceil(r.commitsPerSocket.length / SAMPLE_EVERY);
    closedEarly += r.closedEarly;
    subscriberCpu += r.cpuSeconds;
    for (const [key, at, lag] of r.samples) {
      const sentAt = sent.get(key);
      if (sentAt !== undefined) endToEnd.push(at - sentAt);
      if (Number.isFinite(lag)) delivery.push(lag);
    }
  }
  const delivered = perSocket.reduce((a, b) => a + b, 0);
  if (delivered === 0) {
    throw new Error(`no #commit frame reached ${opts.subscribers} subscribers in ${seconds.toFixed(1)} s (frames seen: ${JSON.stringify(frameTypes)})`);
  }
  const framesSent = Object.values(frameTypes).reduce((a, b) => a + b, 0);
  const result: FanOutResult = {
    subscribers: opts.subscribers,
    clientProcesses: clients.length,
    sampledSubscribers,
    commits: sent.size,
    delivered,
    expected: sent.size * opts.subscribers,
    completeSubscribers: perSocket.filter((n) => n >= sent.size).length,
    frameTypes,
    framesPerSecond: framesSent / writeSeconds,
    endToEndMs: summarize(endToEnd),
    deliveryMs: summarize(delivery),
    clientCpu: (writerCpu + subscriberCpu) / seconds,
    serverCpu: serverCpu / seconds,
    serverCpuMsPerFrame: (serverCpu * 1000) / framesSent,
    machineCpu,
    closedEarly,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
