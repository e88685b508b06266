/**
 * The disk fills under a single node on SQLite + disk: its data directory
 * (database, WAL, blobs) lives on a 24 MiB tmpfs of its own; a bounded load
 * of record writes and blob uploads runs while a filler file takes every
 * free byte, then the filler is deleted. During the fault writes must fail
 * cleanly (503 with Retry-After, never a 500 or a hang) while reads go on;
 * afterwards every acknowledged write is there, the repositories verify,
 * every referenced blob is served whole, SQLite's integrity check passes,
 * and after the sweeper no temp file is left and every blob file has its row.
 * The node runs in this process (createContext, requests through the whole
 * request path without a socket), so the test can run the sweeper at once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { verifyRepoCar } from "@atproto/repo";
import { decode } from "@ipld/dag-cbor";
import { sql } from "kysely";
import { sweepTempBlobs } from "@/blob/sweeper";
import { fakePng } from "@test/support/blobs";
import { type TestContext, testContext } from "@test/support/context";
import { type TestPlc, startPlc } from "@test/support/plc";
import { newAccount, serverConfig, type TestAccount } from "@test/xrpc/support";
import { type FaultResult, recordResult, skippedResult } from "./results";
import { mountSmallFs, type SmallFs } from "./small-fs";

const FS_MB = 24;
/** Every request is cut off after this long: a request still open then counts as a hang. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Load rounds before, during and after the fault; each round is one write and one upload per account. */
const ROUNDS = { before: 8, during: 30, after: 8 };
const BLOB_BYTES = 48 * 1024;
/** Fill and free the filesystem this many times. */
const INJECTIONS = 3;

interface Acked {
  did: string;
  uri: string;
  cid: string;
  /** The commit's rev, as createRecord answered it. */
  rev: string;
  /** The blob the record references, with the sha-256 of the bytes uploaded. */
  blob?: { cid: string; sha256: string };
}

let fs: SmallFs | string;
let plc: TestPlc;
let ctx: TestContext;
let accounts: TestAccount[];
const acked: Acked[] = [];
const statuses: Record<string, number> = {};
let requests = 0;
/** Reads of acknowledged records that did not answer 200 (they must not, even with the disk full). */
const failedReads: string[] = [];
/** Answers during the fault that are not clean: 5xx other than 503/507, a hang, an error without an XRPC body. */
const unclean: string[] = [];

beforeAll(async () => {
  fs = await mountSmallFs(FS_MB);
  if (typeof fs === "string") return;
  plc = await startPlc();
  ctx = await testContext({ ...serverConfig(plc.url, { service: { devMode: true } }), dataDir: join(fs.dir, "data") });
  accounts = [await newAccount(ctx, "full"), await newAccount(ctx, "fuller")];
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await plc?.stop();
  if (typeof fs !== "string") await fs?.unmount();
});

/** One XRPC call through the whole request path, counted, bounded in time. */
async function call(path: string, init: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  requests++;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS)));
  const res = await Promise.race([ctx.request(path, init), timeout]).finally(() => clearTimeout(timer));
  if (!res) {
    statuses.timeout = (statuses.timeout ?? 0) + 1;
    unclean.push(`${path}: no answer in ${REQUEST_TIMEOUT_MS} ms`);
    return { status: 0, body: null, headers: new Headers() };
  }
  const type = res.headers.get("content-type") ?? "";
  const body: any = type.startsWith("application/json") ? await res.json() : new Uint8Array(await res.arrayBuffer());
  if (res.status >= 300) {
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    const clean = (res.status === 503 || res.status === 507) && typeof body?.error === "string";
    if (res.status >= 500 && !clean) unclean.push(`${path}: ${res.status} ${JSON.stringify(body)}`);
    if (res.status === 503 && !res.headers.get("retry-after")) unclean.push(`${path}: 503 without Retry-After`);
  }
  return { status: res.status, body, headers: res.headers };
}

const post = (text: string, embed?: unknown) => ({ $type: "app.bsky.feed.post", text, createdAt: new Date().toISOString(), ...(embed ? { embed } : {}) });

async function createPost(account: TestAccount, record: unknown): Promise<{ uri: string; cid: string; rev: string } | null> {
  const res = await call("/xrpc/com.atproto.repo.createRecord", {
    method: "POST",
    headers: { authorization: account.bearer, "content-type": "application/json" },
    body: JSON.stringify({ repo: account.did, collection: "app.bsky.feed.post", record }),
  });
  return res.status === 200 ? { uri: res.body.uri, cid: res.body.cid, rev: res.body.commit.rev } : null;
}

/** uploadBlob of fresh bytes: the blob ref (null if refused) and the sha-256 of the bytes. */
async function upload(account: TestAccount): Promise<{ blob: any; sha256: string }> {
  const bytes = fakePng(BLOB_BYTES);
  const up = await call("/xrpc/com.atproto.repo.uploadBlob", {
    method: "POST",
    headers: { authorization: account.bearer, "content-type": "image/png" },
    body: bytes,
  });
  return { blob: up.status === 200 ? up.body.blob : null, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** A post embedding `blob`; true (and in the ledger) when acknowledged. */
async function postWithBlob(account: TestAccount, blob: any, sha256: string, text: string): Promise<boolean> {
  const embed = { $type: "app.bsky.embed.images", images: [{ image: blob, alt: text }] };
  const res = await createPost(account, post(text, embed));
  if (res) acked.push({ did: account.did, ...res, blob: { cid: blob.ref.$link, sha256 } });
  return res !== null;
}

/** One round of load for one account: a plain post, and an upload with a post that references it. */
async function round(account: TestAccount, n: number): Promise<number> {
  let ok = 0;
  const plain = await createPost(account, post(`post ${n}`));
  if (plain) {
    acked.push({ did: account.did, ...plain });
    ok++;
  }
  const { blob, sha256 } = await upload(account);
  if (blob && (await postWithBlob(account, blob, sha256, `picture ${n}`))) ok++;
  // A read of something acknowledged earlier: reads must go on while the disk is full.
  const earlier = acked.find((a) => a.did === account.did);
  if (earlier) {
    const rkey = earlier.uri.split("/").pop()!;
    const read = await call(`/xrpc/com.atproto.repo.getRecord?repo=${account.did}&collection=app.bsky.feed.post&rkey=${rkey}`, { method: "GET" });
    if (read.status !== 200) failedReads.push(`${earlier.uri}: ${read.status}`);
  }
  return ok;
}

async function rounds(count: number, from: number): Promise<number> {
  let ok = 0;
  for (let n = from; n < from + count; n++) for (const account of accounts) ok += await round(account, n);
  return ok;
}

test("the disk fills under SQLite + disk: writes fail with 503, reads go on, nothing acknowledged is lost", async () => {
  if (typeof fs === "string") {
    recordResult(skippedResult("disk-full-sqlite", `Disk full under SQLite + disk (${FS_MB} MiB tmpfs)`, fs));
    console.log(`disk-full: not run: ${fs}`);
    return;
  }
  const small = fs;
  const started = Date.now();
  expect(await rounds(ROUNDS.before, 0)).toBe(ROUNDS.before * accounts.length * 2);

  const injections: { filledMb: number; acked: number; refused: number; recoverySeconds: number | null }[] = [];
  let next = ROUNDS.before;
  for (let i = 0; i < INJECTIONS; i++) {
    const refusedBefore = refusedCount();
    // Uploaded before the disk fills, referenced while it is full: the record's commit needs space the blob already has.
    const pending = await Promise.all(accounts.map(async (account) => ({ account, ...(await upload(account)) })));
    const filled = small.fill();
    expect(small.free()).toBeLessThan(64 * 1024);
    let duringAcked = 0;
    for (const p of pending) if (p.blob && (await postWithBlob(p.account, p.blob, p.sha256, `pending ${i}`))) duringAcked++;
    duringAcked += await rounds(ROUNDS.during, next);
    next += ROUNDS.during;
    const refused = refusedCount() - refusedBefore;
    small.release();
    const recoverySeconds = await firstWriteAfter(Date.now());
    // The first account claims its pending blob now (a retry after the refusal); the second's is left to the sweeper.
    const retry = pending[0]!;
    if (retry.blob && !acked.some((a) => a.blob?.cid === retry.blob.ref.$link)) {
      expect(await postWithBlob(retry.account, retry.blob, retry.sha256, `retried ${i}`)).toBe(true);
    }
    injections.push({ filledMb: filled / 2 ** 20, acked: duringAcked, refused, recoverySeconds });
    // The next injection starts from a working node again.
    expect(await rounds(2, next)).toBe(2 * accounts.length * 2);
    next += 2;
  }
  const afterAcked = await rounds(ROUNDS.after, next);

  const checks = await checkAfterwards(small);
  const lost = checks.lost;
  const result: FaultResult = {
    id: "disk-full-sqlite",
    fault: `Disk full under SQLite + disk (${FS_MB} MiB tmpfs filled, then freed)`,
    injections: INJECTIONS,
    durationSeconds: (Date.now() - started) / 1000,
    requests,
    errorsByStatus: { ...statuses },
    failures: unclean.length,
    acknowledgedWrites: acked.length,
    lostWrites: lost,
    recoverySeconds: injections.at(-1)!.recoverySeconds,
    // No live subscriber here: the event log itself is checked (checkEventLog); `events` counts its #commit rows.
    firehose: { subscribers: 0, events: checks.events, gaps: 0, errors: 0 },
    checks: checks.list,
    note: injections
      .map((j, i) => `#${i + 1}: filler ${j.filledMb.toFixed(1)} MiB, ${j.refused} refused and ${j.acked} acknowledged while full, first write ${j.recoverySeconds ?? "never"} s after freeing`)
      .join("; "),
    at: new Date().toISOString(),
  };
  recordResult(result);
  console.log(`disk-full: ${JSON.stringify(result)}`);

  expect(unclean).toEqual([]);
  expect(failedReads).toEqual([]);
  for (const j of injections) {
    // The fault must have bitten (uploads at least need new space), and writes must come back once space is freed.
    expect(j.refused).toBeGreaterThan(0);
    expect(j.recoverySeconds).not.toBeNull();
  }
  expect(afterAcked).toBe(ROUNDS.after * accounts.length * 2);
  expect(checks.list.filter((c) => !c.ok)).toEqual([]);
  expect(lost).toBe(0);
}, 180_000);

/** Refused requests so far (any non-2xx answer). */
function refusedCount(): number {
  return Object.values(statuses).reduce((n, c) => n + c, 0);
}

/** Write until one is acknowledged (bounded): seconds from `freedAt` to that write, or null. */
async function firstWriteAfter(freedAt: number): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    const res = await createPost(accounts[0]!, post(`recovery ${i}`));
    if (res) {
      acked.push({ did: accounts[0]!.did, ...res });
      return (Date.now() - freedAt) / 1000;
    }
    await Bun.sleep(200);
  }
  return null;
}

async function checkAfterwards(small: SmallFs): Promise<{ lost: number; list: FaultResult["checks"]; events: number }> {
  const list: FaultResult["checks"] = [];
  let lost = 0;
  const missing: string[] = [];
  for (const a of acked) {
    const rkey = a.uri.split("/").pop()!;
    const res = await call(`/xrpc/com.atproto.repo.getRecord?repo=${a.did}&collection=app.bsky.feed.post&rkey=${rkey}`, { method: "GET" });
    if (res.status !== 200 || res.body.cid !== a.cid) {
      lost++;
      missing.push(`${a.uri}: ${res.status}`);
    }
  }
  list.push({ name: "every acknowledged write present", ok: lost === 0, detail: missing.slice(0, 5).join("; ") || undefined });

  const unverified: string[] = [];
  for (const account of accounts) {
    const car = await call(`/xrpc/com.atproto.sync.getRepo?did=${account.did}`, { method: "GET" });
    const key = (await (await fetch(`${plc.url}/${account.did}/data`)).json()) as { verificationMethods: { atproto: string } };
    try {
      const verified = await verifyRepoCar(car.body as Uint8Array, account.did, key.verificationMethods.atproto);
      const ours = acked.filter((a) => a.did === account.did).length;
      if (verified.creates.length !== ours) unverified.push(`${account.did}: ${verified.creates.length} records, ${ours} acknowledged`);
    } catch (err) {
      unverified.push(`${account.did}: ${(err as Error).message}`);
    }
  }
  list.push({ name: "repositories verify (verifyRepoCar)", ok: unverified.length === 0, detail: unverified.join("; ") || undefined });

  const badBlobs: string[] = [];
  for (const a of acked.filter((x) => x.blob)) {
    const res = await call(`/xrpc/com.atproto.sync.getBlob?did=${a.did}&cid=${a.blob!.cid}`, { method: "GET" });
    const sha = res.body instanceof Uint8Array ? createHash("sha256").update(res.body).digest("hex") : "";
    if (res.status !== 200 || sha !== a.blob!.sha256) badBlobs.push(`${a.blob!.cid}: ${res.status}`);
  }
  list.push({ name: "every referenced blob served whole", ok: badBlobs.length === 0, detail: badBlobs.slice(0, 5).join("; ") || undefined });

  const events = await checkEventLog();
  list.push(events.check);

  const integrity = await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(ctx.db.db());
  const verdict = integrity.rows.map((r) => r.integrity_check).join("; ");
  list.push({ name: "SQLite PRAGMA integrity_check", ok: verdict === "ok", detail: verdict === "ok" ? undefined : verdict });

  const tmpEntries = readdirSync(join(small.dir, "data", "blobs", "tmp"));
  const tmpBefore = tmpEntries.length;
  const parts = tmpEntries.filter((e) => e.endsWith(".part"));
  // An upload cut off by ENOSPC removes its own part file: nothing half-written waits for the sweeper.
  list.push({ name: "no half-written (.part) upload left by a refused upload", ok: parts.length === 0, detail: parts.length ? `${parts.length} part files` : undefined });
  await sweepTempBlobs(ctx.blobService, 0);
  const tmpLeft = readdirSync(join(small.dir, "data", "blobs", "tmp"));
  const tempRows = await ctx.db.db().selectFrom("blob").select("cid").where("temp_key", "is not", null).execute();
  list.push({
    name: "no temp blob file or row left after the sweeper",
    ok: tmpLeft.length === 0 && tempRows.length === 0,
    detail: `${tmpBefore} temp files before the sweep (uploads whose record was refused), ${tmpLeft.length} files and ${tempRows.length} rows after`,
  });
  const orphans = await orphanBlobFiles(join(small.dir, "data", "blobs", "blocks"));
  list.push({ name: "every stored blob file has its row (nothing leaked by a refused commit)", ok: orphans.length === 0, detail: orphans.length ? `${orphans.length} files without a row: ${orphans.slice(0, 3).join(", ")}` : undefined });
  return { lost, list, events: events.count };
}

/** Files under blocks/ (blocks/<shard>/<did>/<shard>/<cid>) with no blob row for (did, cid). */
async function orphanBlobFiles(blocks: string): Promise<string[]> {
  const rows = await ctx.db.db().selectFrom("blob").select(["did", "cid"]).execute();
  const known = new Set(rows.map((r) => `${r.did}/${r.cid}`));
  const orphans: string[] = [];
  for (const shard of readdirSync(blocks)) {
    for (const did of readdirSync(join(blocks, shard))) {
      for (const cidShard of readdirSync(join(blocks, shard, did))) {
        for (const cid of readdirSync(join(blocks, shard, did, cidShard))) if (!known.has(`${did}/${cid}`)) orphans.push(`${did}/${cid}`);
      }
    }
  }
  return orphans;
}

/**
 * The event log the firehose serves, read from the database: every
 * acknowledged write has its #commit, and each repo's commits chain (each
 * `since` is the rev before it), so no commit was forked or dropped.
 */
async function checkEventLog(): Promise<{ count: number; check: FaultResult["checks"][number] }> {
  const rows = await ctx.db.db().selectFrom("repo_seq").select(["seq", "did", "event_type", "event"]).where("event_type", "=", "commit").orderBy("seq").execute();
  const problems: string[] = [];
  const revs = new Set<string>();
  const last = new Map<string, string>();
  for (const row of rows) {
    const body = decode(row.event as Uint8Array) as { rev: string; since: string | null };
    const previous = last.get(row.did);
    if (previous !== undefined && body.since !== previous) problems.push(`seq ${row.seq}: since ${body.since}, previous rev ${previous}`);
    if (revs.has(body.rev)) problems.push(`seq ${row.seq}: rev ${body.rev} twice`);
    revs.add(body.rev);
    last.set(row.did, body.rev);
  }
  for (const a of acked) if (!revs.has(a.rev)) problems.push(`${a.uri}: no #commit for rev ${a.rev}`);
  return {
    count: rows.length,
    check: { name: "event log: a #commit per acknowledged write, each repo's chain unbroken", ok: problems.length === 0, detail: problems.slice(0, 5).join("; ") || undefined },
  };
}
