import { sql } from "kysely";
import { loadUserConfig } from "@/config/load";
import { resolveConfig } from "@/config/resolve";
import type { BlobStorePlugin } from "@/contracts/blob-store";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import type { Plugin } from "@/contracts/plugin";
import { migrationStatus } from "@/db/migrator";
import { createMetrics } from "@/http/metrics";
import { createLogger } from "@/log";
import { withTimeout } from "@/util/with-timeout";
import { type Hint, hintFor } from "./doctor-hints";

const CHECK_TIMEOUT_MS = 15_000;

/** A check failed for a reason doctor itself understands (no driver error to classify). */
class Finding extends Error {
  constructor(
    message: string,
    readonly hint: Hint,
  ) {
    super(message);
  }
}

interface Check {
  label: string;
  plugin: Plugin<string>;
  /** The harmless round trip; resolves to what it verified. */
  probe(): Promise<string>;
}

/**
 * `aurora doctor`: connect to every configured backend, do one harmless
 * round trip on each, print one line per check with its latency and, on
 * failure, the likely cause and fix. Exit 1 when any check fails.
 */
export async function doctor(file?: string): Promise<number> {
  const { config: user, source } = await loadUserConfig(file);
  const config = resolveConfig(user);
  process.stdout.write(`aurora doctor: ${source}\n`);
  const checks: Check[] = [
    { label: "database", plugin: config.db, probe: () => probeDatabase(config.db) },
    { label: "blob store", plugin: config.blobs, probe: () => probeBlobs(config.blobs) },
    { label: "cache", plugin: config.cache, probe: () => probeCache(config.cache) },
  ];
  const ctx = { dataDir: config.dataDir, log: createLogger("silent"), metrics: createMetrics().registry };
  let failed = 0;
  for (const check of checks) {
    const started = performance.now();
    try {
      const run = async () => {
        await check.plugin.init(ctx);
        await check.plugin.health();
        return check.probe();
      };
      const verified = await withTimeout(run(), CHECK_TIMEOUT_MS);
      report("ok", check, started, verified);
    } catch (err) {
      failed++;
      const hint = err instanceof Finding ? err.hint : hintFor(err);
      report("FAIL", check, started, (err as Error).message.replace(/^\[aurora\] \[[^\]]+\] /, ""));
      if (hint) process.stdout.write(`       cause: ${hint.cause}\n       fix:   ${hint.fix}\n`);
    } finally {
      await check.plugin.close().catch(() => {});
    }
  }
  process.stdout.write(failed === 0 ? "all checks passed\n" : `${failed} of ${checks.length} checks failed\n`);
  return failed === 0 ? 0 : 1;
}

function report(status: "ok" | "FAIL", check: Check, started: number, detail: string) {
  const ms = `${Math.round(performance.now() - started)} ms`.padStart(8);
  process.stdout.write(`${status.padEnd(4)} ${check.label.padEnd(10)} ${check.plugin.name.padEnd(14)} ${ms}  ${detail}\n`);
}

async function probeDatabase(db: DatabasePlugin): Promise<string> {
  await sql`SELECT 1`.execute(db.db());
  const pending = (await migrationStatus(db)).filter((m) => m.appliedAt === null);
  if (pending.length > 0) {
    throw new Finding(`connected; ${pending.length} migration(s) pending: ${pending.map((m) => m.name).join(", ")}`, {
      cause: "the schema is older than this version of Aurora",
      fix: "run `aurora migrate run` (serve also migrates at start unless migrateOnStart is false)",
    });
  }
  return "query ok, schema current";
}

async function probeBlobs(blobs: BlobStorePlugin): Promise<string> {
  const payload = new TextEncoder().encode(`aurora doctor probe ${new Date().toISOString()}`);
  const did = "did:plc:auroradoctorprobeaaaaaaa";
  const cid = `bafkrei${randomBase32(52)}`;
  const { key } = await blobs.putTemp(
    (async function* () {
      yield payload;
    })(),
  );
  try {
    await blobs.makePermanent(key, did, cid);
    const read = await blobs.get(did, cid);
    const back = new Uint8Array(await new Response(read.stream).arrayBuffer());
    if (Buffer.compare(back, payload) !== 0) {
      throw new Finding("the probe object came back different", {
        cause: "the store altered the object (an S3-compatible server storing aws-chunked bodies verbatim?)",
        fix: "set checksums: \"when_required\" (PDS_BLOBSTORE_S3_CHECKSUMS=when_required)",
      });
    }
  } finally {
    await blobs.delete(did, [cid]).catch(() => {});
    await blobs.deleteTemp(key).catch(() => {});
  }
  return "write, read and delete of a probe object ok";
}

async function probeCache(cache: CachePlugin): Promise<string> {
  const key = `doctor:probe:${randomBase32(16)}`;
  const value = String(Date.now());
  await cache.set(key, value, 30);
  const back = await cache.get(key);
  await cache.delete(key);
  if (back !== value) {
    throw new Finding("the probe key was not read back", {
      cause: "writes are being dropped: the cache is unreachable or evicting immediately",
      fix: "check REDIS_URL and Redis's maxmemory policy",
    });
  }
  return cache.shared ? "set, get and delete of a probe key ok" : "in-process cache ok (not shared between nodes)";
}

function randomBase32(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (b) => alphabet[b % 32]).join("");
}
