/**
 * Run by index.test.ts in a fresh process: stream 100 MB through put and get
 * and print the peak RSS growth. A fresh process keeps the measurement free of
 * whatever the rest of the test run has allocated.
 */
import { createHash } from "node:crypto";
import { freshCid, freshDid, generated, pluginContext } from "@test/conformance/blob-store";
import { disk } from "./index";

const size = 100 * 1024 * 1024;
const ctx = pluginContext();
const store = disk();
try {
  await store.init(ctx);
  Bun.gc(true);
  const before = process.memoryUsage.rss();
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const input = generated(size);
  const sampled = async function* () {
    for await (const chunk of input.source) {
      sample();
      yield chunk;
    }
  };
  const { key } = await store.putTemp(sampled());
  const did = freshDid();
  const cid = freshCid();
  await store.makePermanent(key, did, cid);
  const { stream } = await store.get(did, cid);
  const hash = createHash("sha256");
  let read = 0;
  for await (const chunk of stream) {
    sample();
    hash.update(chunk);
    read += chunk.byteLength;
  }
  process.stdout.write(JSON.stringify({ read, intact: hash.digest("hex") === input.digest(), growth: peak - before }));
} finally {
  await store.close();
  ctx.cleanup();
}
