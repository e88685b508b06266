/**
 * The subscriber side of bench/firehose.ts, in its own process so that 500
 * WebSocket clients do not share the server's event loop. Usage (spawned by
 * bench/firehose.ts): bun bench/firehose-clients.ts PORT COUNT SAMPLE_EVERY
 *
 * Prints `ready` once every socket is open. Every socket counts frames; every
 * SAMPLE_EVERY-th also decodes each frame and records (seq, arrival time).
 * On a line on stdin it prints one JSON line with the results and exits.
 */
import { decodeFrame } from "@test/support/firehose";

const [port, count, sampleEvery] = process.argv.slice(2).map(Number) as [number, number, number];
const url = `ws://127.0.0.1:${port}/xrpc/com.atproto.sync.subscribeRepos`;
const received = new Array<number>(count).fill(0);
const samples: number[] = [];
const errors: string[] = [];
let closed = 0;
const now = () => performance.timeOrigin + performance.now();

const sockets: WebSocket[] = [];
const opened: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const sampled = i % sampleEvery === 0;
  ws.onmessage = (event) => {
    received[i]!++;
    if (!sampled) return;
    const at = now();
    const frame = decodeFrame(new Uint8Array(event.data as ArrayBuffer));
    if (frame.header.op !== 1) errors.push(String(frame.body.error));
    else samples.push(frame.body.seq as number, at);
  };
  ws.onclose = () => void closed++;
  opened.push(
    new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`socket ${i} failed to open`));
    }),
  );
  sockets.push(ws);
  // Open in small bursts: 500 handshakes at once would time out on a 2-core box.
  if (i % 50 === 49) await Promise.all(opened.slice(i - 49));
}
await Promise.all(opened);
process.stdout.write("ready\n");

for await (const _ of console) break;
const rssMb = process.memoryUsage().rss / 1024 / 1024;
const cpu = process.cpuUsage();
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
for (const ws of sockets) ws.close();
// Bun.write resolves once the pipe has the bytes; process.stdout.write may still be buffering at exit.
await Bun.write(Bun.stdout, `${JSON.stringify({ received, samples, errors: errors.slice(0, 5), closedEarly: closed, rssMb, cpuSeconds })}\n`);
process.exit(0);
