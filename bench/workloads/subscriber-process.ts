/**
 * Firehose subscribers in a process of their own, spawned by
 * subscribe-repos.ts, so hundreds of sockets do not share the writer's event
 * loop: bun subscriber-process.ts WS_URL COUNT SAMPLE_EVERY REPORT_FILE
 *
 * Every socket counts every frame by type (from the header bytes alone);
 * every SAMPLE_EVERY-th socket also decodes each frame and records, per
 * #commit, `repo rev`, its arrival (ms since the epoch, sub-millisecond), its
 * lag behind the event's `time` and its seq. Used by the suite's fan-out
 * (subscribe-repos.ts) and by bench/firehose.ts. Prints `ready` once all are open; on a
 * line on stdin writes REPORT_FILE (JSON, a SubscriberReport: a few hundred KB,
 * more than a pipe holds at exit), prints `reported` and exits.
 */
import { decodeFrame } from "@test/support/firehose";

export interface SubscriberReport {
  /** Frames by type across this process's sockets (`#commit`, `#identity`, `error <name>`, ...). */
  frameTypes: Record<string, number>;
  /** #commit frames per socket. */
  commitsPerSocket: number[];
  /** From sampled sockets: [`repo rev`, arrival ms since the epoch, lag behind the event's time ms, seq] per #commit. */
  samples: [string, number, number, number][];
  closedEarly: number;
  /** CPU seconds from `ready` to the report. */
  cpuSeconds: number;
  rssMb: number;
}

const BURST = 50;
const utf8 = new TextDecoder();

const [url, countArg, sampleArg, reportFile] = process.argv.slice(2) as [string, string, string, string];
const count = Number(countArg);
const sampleEvery = Number(sampleArg);
const now = () => performance.timeOrigin + performance.now();
const report: SubscriberReport = { frameTypes: {}, commitsPerSocket: new Array<number>(count).fill(0), samples: [], closedEarly: 0, cpuSeconds: 0, rssMb: 0 };
let done = false;

const sockets: WebSocket[] = [];
const opened: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const sampled = i % sampleEvery === 0;
  ws.onmessage = (event) => {
    const at = now();
    const bytes = new Uint8Array(event.data as ArrayBuffer);
    let type = headerType(bytes);
    if (sampled || type === undefined) {
      const frame = decodeFrame(bytes);
      type = frame.header.op === 1 ? String(frame.header.t) : `error ${String(frame.body.error)}`;
      if (type === "#commit" && sampled) {
        report.samples.push([`${frame.body.repo} ${frame.body.rev}`, at, Date.now() - Date.parse(String(frame.body.time)), Number(frame.body.seq)]);
      }
    }
    report.frameTypes[type] = (report.frameTypes[type] ?? 0) + 1;
    if (type === "#commit") report.commitsPerSocket[i]!++;
  };
  ws.onclose = () => {
    if (!done) report.closedEarly++;
  };
  opened.push(
    new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`subscriber ${i} could not open ${url}`));
    }),
  );
  sockets.push(ws);
  // In bursts: hundreds of handshakes at once time out on a 2-core box.
  if (i % BURST === BURST - 1) await Promise.all(opened.slice(i - BURST + 1));
}
await Promise.all(opened);
const cpu0 = process.cpuUsage();
process.stdout.write("ready\n");

for await (const _ of console) break;
done = true;
const cpu = process.cpuUsage(cpu0);
report.cpuSeconds = (cpu.user + cpu.system) / 1e6;
report.rssMb = process.memoryUsage().rss / 1024 / 1024;
for (const ws of sockets) ws.close();
await Bun.write(reportFile, JSON.stringify(report));
await Bun.write(Bun.stdout, "reported\n");
process.exit(0);

/**
 * The frame type from a DAG-CBOR header `{t: "#...", op: 1}` (keys in
 * canonical order: `t` before `op`), without decoding the body; undefined
 * for anything else (an error frame), which the caller decodes in full.
 */
function headerType(b: Uint8Array): string | undefined {
  // a2 = map(2), 61 74 = "t", then a short text string (major 3, length < 24).
  if (b[0] !== 0xa2 || b[1] !== 0x61 || b[2] !== 0x74 || b[3]! >> 5 !== 3) return undefined;
  const len = b[3]! & 31;
  if (len >= 24) return undefined;
  return utf8.decode(b.subarray(4, 4 + len));
}
