import { decodeFrame, type Frame } from "@test/support/firehose";
import { type Latency, summarize } from "../lib/load";
import { cpuSeconds, machineCpuSeconds, ownCpuSeconds } from "../lib/proc";
import { type Account, postJson } from "../lib/xrpc";
import type { Server } from "../targets/server";
import { COLLECTION, postRecord } from "./records";

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
  commits: number;
  /** Commit frames received across all subscribers, of `commits × subscribers`. */
  delivered: number;
  expected: number;
  /** Every frame received, by type (`#commit`, `#identity`, `error <name>`, ...), to tell a silent stream from a mismatched one. */
  frameTypes: Record<string, number>;
  /** From sending createRecord to a subscriber holding the decoded #commit frame, ms. */
  endToEndMs: Latency;
  /** From the event's own `time` field to a subscriber holding it, ms (millisecond clock). */
  deliveryMs: Latency;
  clientCpu: number;
  serverCpu: number;
  machineCpu: number;
  firstError?: string;
}

const OPEN_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 5_000;

/** N live subscribers on com.atproto.sync.subscribeRepos while paced createRecord calls go in. */
export async function fanOut(server: Server, accounts: Account[], opts: FanOutOptions): Promise<FanOutResult> {
  const arrivals = new Map<string, number[]>();
  const delivery: number[] = [];
  let received = 0;
  const frameTypes: Record<string, number> = {};
  const sockets = await openSubscribers(server.url.replace(/^http/, "ws"), opts.subscribers, (frame, at) => {
    const type = frame.header.op === 1 ? String(frame.header.t) : `error ${String(frame.body.error)}`;
    frameTypes[type] = (frameTypes[type] ?? 0) + 1;
    if (type !== "#commit") return;
    const key = `${frame.body.repo} ${frame.body.rev}`;
    const list = arrivals.get(key);
    if (list) list.push(at);
    else arrivals.set(key, [at]);
    const lag = Date.now() - Date.parse(String(frame.body.time));
    if (Number.isFinite(lag)) delivery.push(lag);
    received++;
  });

  const sent = new Map<string, number>();
  let firstError: string | undefined;
  const cpu0 = ownCpuSeconds();
  const serverCpu0 = cpuSeconds(server.pid);
  const machineCpu0 = machineCpuSeconds();
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let k = 0; performance.now() - t0 < opts.maxMs; k++) {
    const due = t0 + (k * 1000) / opts.writesPerSecond;
    if (due > performance.now()) await Bun.sleep(due - performance.now());
    if (inFlight.size >= opts.maxInFlight) await Promise.race(inFlight);
    const account = accounts[k % accounts.length]!;
    const sentAt = performance.now();
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
  const expected = sent.size * opts.subscribers;
  const drainBy = performance.now() + DRAIN_TIMEOUT_MS;
  while (received < expected && performance.now() < drainBy) await Bun.sleep(20);
  const seconds = (performance.now() - t0) / 1000;
  const clientCpu = (ownCpuSeconds() - cpu0) / seconds;
  const serverCpu = (cpuSeconds(server.pid) - serverCpu0) / seconds;
  const machineCpu = (machineCpuSeconds() - machineCpu0) / seconds;
  for (const ws of sockets) ws.close();

  if (sent.size === 0) throw new Error(`no createRecord succeeded: ${firstError}`);
  if (received === 0) {
    throw new Error(`no #commit frame reached ${opts.subscribers} subscribers in ${seconds.toFixed(1)} s (frames seen: ${JSON.stringify(frameTypes)})`);
  }
  const endToEnd: number[] = [];
  let delivered = 0;
  for (const [key, sentAt] of sent) {
    for (const at of arrivals.get(key) ?? []) {
      endToEnd.push(at - sentAt);
      delivered++;
    }
  }
  const result: FanOutResult = {
    subscribers: opts.subscribers,
    commits: sent.size,
    delivered,
    expected,
    frameTypes,
    endToEndMs: summarize(endToEnd),
    deliveryMs: summarize(delivery),
    clientCpu,
    serverCpu,
    machineCpu,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

async function openSubscribers(base: string, count: number, onFrame: (frame: Frame, at: number) => void): Promise<WebSocket[]> {
  const url = `${base}/xrpc/com.atproto.sync.subscribeRepos`;
  const sockets = Array.from({ length: count }, () => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => onFrame(decodeFrame(new Uint8Array(ev.data as ArrayBuffer)), performance.now());
    return ws;
  });
  const opened = sockets.map(
    (ws) =>
      new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`subscribeRepos: could not open ${url}`));
      }),
  );
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`subscribeRepos: ${count} subscribers not open within ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(opened), timeout]);
  } catch (err) {
    for (const ws of sockets) ws.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return sockets;
}
