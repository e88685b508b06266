/**
 * What `aurora move` costs: a SQLite + disk server filled in process (N
 * records by applyWrites over 10 accounts through the request path, and M
 * MiB of random blobs written through the blob store with their rows), moved
 * by the CLI to PostgreSQL + S3 and back to a fresh SQLite + disk, each with
 * --verify. Prints per-stage rates from the mover's own log lines and the
 * mover's peak RSS (VmHWM of the child, sampled every 100 ms). Not part of
 * `npm test`; needs the test services:
 *
 *   bun scripts/with-services.ts -- bun bench/move.ts [--records 100000] [--blob-mib 1024] [--blob-size-mib 4]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CID } from "multiformats/cid";
import { create as digestOf } from "multiformats/hashes/digest";
import { resolveConfig, type RunConfig } from "@/config/resolve";
import { createContext } from "@/context";
import { createLogger } from "@/log";
import { createAccounts, inProcessCaller } from "./lib/in-process";
import { postgresS3Fields, SQLITE_DISK, TEST_SECRETS, writeConfig } from "@test/move/fixture";
import { freshPostgres } from "@test/support/firehose";
import { startPlc } from "@test/support/plc";
import { BUN, ROOT } from "@test/support/process";

const { values } = parseArgs({
  options: { records: { type: "string", default: "100000" }, "blob-mib": { type: "string", default: "1024" }, "blob-size-mib": { type: "string", default: "4" } },
});
const RECORDS = Number(values.records);
const BLOB_BYTES = Number(values["blob-mib"]) * 1024 * 1024;
const BLOB_SIZE = Number(values["blob-size-mib"]) * 1024 * 1024;
if (!process.env.AURORA_TEST_POSTGRES_URL) throw new Error("run through scripts/with-services.ts (needs PostgreSQL and s3rver)");

const work = mkdtempSync(join(tmpdir(), "aurora-bench-move-"));
const plc = await startPlc();
const sourceDir = join(work, "source");

// 1. Fill the source.
const fillStarted = performance.now();
const config = resolveConfig({
  dataDir: sourceDir,
  service: { inviteRequired: false },
  identity: { plcUrl: plc.url },
  rateLimit: { enabled: false },
  secrets: TEST_SECRETS,
}) as RunConfig;
const ctx = await createContext(config, { log: createLogger("warn") });
const call = inProcessCaller(ctx);
const accounts = await createAccounts(call, "mover", 10);
const batches = Math.ceil(RECORDS / 200);
let nextBatch = 0;
await Promise.all(
  accounts.slice(0, 4).map(async () => {
    for (let b = nextBatch++; b < batches; b = nextBatch++) {
      const { did, token } = accounts[b % accounts.length]!;
      const n = Math.min(200, RECORDS - b * 200);
      const writes = Array.from({ length: n }, (_, k) => ({
        $type: "com.atproto.repo.applyWrites#create",
        collection: "app.bsky.feed.post",
        value: { $type: "app.bsky.feed.post", text: `bench post ${b * 200 + k} with a little text to be realistic`, createdAt: new Date().toISOString() },
      }));
      await call("com.atproto.repo.applyWrites", { repo: did, writes }, token);
    }
  }),
);
const recordsDone = performance.now();
let blobCount = 0;
for (let written = 0; written < BLOB_BYTES; written += BLOB_SIZE, blobCount++) {
  const size = Math.min(BLOB_SIZE, BLOB_BYTES - written);
  const hasher = new Bun.CryptoHasher("sha256");
  async function* random() {
    for (let left = size; left > 0; left -= 65536) {
      const chunk = crypto.getRandomValues(new Uint8Array(Math.min(65536, left)));
      hasher.update(chunk);
      yield chunk;
    }
  }
  const { key } = await ctx.blobs.putTemp(random());
  const cid = CID.createV1(0x55, digestOf(0x12, new Uint8Array(hasher.digest()))).toString();
  const did = accounts[blobCount % accounts.length]!.did;
  await ctx.blobs.makePermanent(key, did, cid);
  await ctx.db.db().insertInto("blob").values({ did, cid, mime_type: "application/octet-stream", size, temp_key: null, width: null, height: null, created_at: new Date().toISOString(), takedown_ref: null }).execute();
}
const rows = await ctx.db.db().selectFrom("repo_block").select((eb) => eb.fn.countAll().as("n")).executeTakeFirst();
await ctx.close();
console.log(
  `filled: ${RECORDS} records (${rows?.n} repo blocks) in ${((recordsDone - fillStarted) / 1000).toFixed(1)}s, ` +
    `${blobCount} blobs (${(BLOB_BYTES / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - recordsDone) / 1000).toFixed(1)}s`,
);

// 2. Move there and back, each with --verify.
const pg = await freshPostgres();
const prefix = `bench-move-${crypto.randomUUID().slice(0, 8)}/`;
const from = writeConfig(work, "source.ts", sourceDir, SQLITE_DISK);
const toPg = writeConfig(work, "pg.ts", join(work, "pg-data"), postgresS3Fields(pg.url, prefix));
const back = writeConfig(work, "back.ts", join(work, "back"), SQLITE_DISK);
try {
  // s3rver removes an emptied directory while a concurrent PUT is writing into it (ENOENT, and it exits):
  // blobs go into it one at a time. Reading from it concurrently is fine.
  for (const [label, a, b, width] of [["SQLite + disk → PostgreSQL + S3", from, toPg, "1"], ["PostgreSQL + S3 → SQLite + disk", toPg, back, "4"]] as const) {
    const run = await measure(["move", "--from", a, "--to", b, "--verify", "--blob-concurrency", width]);
    if (run.code !== 0) throw new Error(`${label}: exit ${run.code}\n${run.stderr}`);
    const stage = (name: string) => run.stdout.match(new RegExp(`\\[move\\] ${name}: done, (.*)`))?.[1] ?? "?";
    console.log(`\n${label} (blobs ${width} at a time): ${run.seconds.toFixed(1)}s wall, peak RSS ${(run.peakKb / 1024).toFixed(0)} MiB`);
    console.log(`  ${run.stdout.match(/copied .*/)?.[0]}`);
    for (const name of ["repo_block", "record", "repo_seq", "blob bytes", "verify repos", "verify blobs"]) {
      console.log(`  ${name}: ${stage(name)}; RSS up to ${((run.stageKb.get(name) ?? 0) / 1024).toFixed(0)} MiB`);
    }
  }
} finally {
  await pg.drop();
  await plc.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Run the CLI as a child, sampling its RSS: the peak (VmHWM), and the largest VmRSS seen during each stage. */
async function measure(args: string[]): Promise<{ code: number; stdout: string; stderr: string; seconds: number; peakKb: number; stageKb: Map<string, number> }> {
  const started = performance.now();
  const child = Bun.spawn([BUN, "src/main.ts", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  let peakKb = 0;
  let stageMax = 0;
  const stageKb = new Map<string, number>();
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      stageMax = Math.max(stageMax, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // exited between samples
    }
  };
  const sampler = setInterval(sample, 50);
  let stdout = "";
  const collect = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      const text = decoder.decode(chunk);
      stdout += text;
      for (const m of text.matchAll(/\[move\] ([^:]+): done/g)) {
        sample();
        stageKb.set(m[1]!, stageMax);
        stageMax = 0;
      }
    }
  })();
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited, collect]);
  clearInterval(sampler);
  return { code, stdout, stderr, seconds: (performance.now() - started) / 1000, peakKb, stageKb };
}
