/**
 * What must hold after a fault and its recovery, checked from the outside
 * (through nginx) and against the rig's own PostgreSQL and s3rver: no
 * acknowledged write lost, every repo verifying with no fork of its chain,
 * every embedded blob served, no temp blob left once the sweeper ran, every
 * firehose subscriber gap-free, clean errors only, and the recovery time.
 */
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { verifyRepoCar } from "@atproto/repo";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import postgresjs from "postgres";
import { eventually } from "@test/support/eventually";
import { S3_BUCKET, S3_CREDENTIALS } from "@test/support/services";
import type { Ack, LoadReport, Outcome, Sample } from "./load";
import type { FaultResult } from "./results";
import type { Rig } from "./rig";
import { SWEEP } from "./rig";

/** Answers a fault may cause: overload, the balancer finding no node, a node or backend unavailable. */
export const CLEAN_ERRORS: ReadonlySet<Outcome> = new Set<Outcome>([429, 502, 503, 504, "timeout"]);

export type Check = FaultResult["checks"][number];

/** Run `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/**
 * Answers of 5xx (or no answer) the checks' own reads met after the recovery,
 * before a retry got through: reads should be clean once writes flow again.
 */
export const afterRecovery: Retried[] = [];

/**
 * One retried answer: when, what (the method's name and the status or
 * error), and for a getBlob 503 whether s3rver itself answered right then.
 */
export interface Retried {
  at: number;
  what: string;
  blob503?: { s3rverAway: boolean };
}

/** The checks of one fault stop asking after this time (a deployment that does not answer must not hold the suite). */
let checksUntil = Infinity;

/** Start the checks' clock: they give up `ms` from now. */
export function checksDeadline(ms: number): void {
  checksUntil = Date.now() + ms;
}

/**
 * GET, retried for a 5xx or no answer for up to 12 s (longer than nginx's
 * fail_timeout of 5 s), so the data checks tell "unreadable for a while" from
 * "gone"; every retried answer is noted in `afterRecovery`.
 */
export async function getWithRetry(url: string): Promise<Response> {
  if (Date.now() > checksUntil) throw new Error("not checked: the checks ran out of time (see the other failures)");
  const deadline = Math.min(Date.now() + 12_000, checksUntil);
  for (;;) {
    let what: string;
    let blob503: Retried["blob503"];
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (res.status < 500) return res;
      if (res.status === 503 && new URL(url).pathname.endsWith("/com.atproto.sync.getBlob")) blob503 = { s3rverAway: await s3rverAway() };
      what = `${res.status}${blob503?.s3rverAway ? " (s3rver away)" : ""}`;
      if (Date.now() > deadline) return res;
    } catch (err) {
      what = `${err}${await whoHangs(url)}`;
      if (Date.now() > deadline) throw new Error(`GET ${url}: no answer (${what})`);
    }
    afterRecovery.push({ at: Date.now(), what: `${new URL(url).pathname.split("/").pop()} ${what}`, ...(blob503 ? { blob503 } : {}) });
    await Bun.sleep(500);
  }
}

/** Where a request that timed out through nginx hangs: the same request to each node, and s3rver, with 3 s each. */
let probeTargets: { nodes: string[]; s3: string } | undefined;
async function whoHangs(url: string): Promise<string> {
  if (!probeTargets) return "";
  const path = url.slice(new URL(url).origin.length);
  const one = async (target: string) => {
    const t = Date.now();
    try {
      const res = await fetch(target, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return `${res.status} in ${Date.now() - t} ms`;
    } catch (err) {
      return `${(err as Error).name} after ${Date.now() - t} ms`;
    }
  };
  const answers = await Promise.all([...probeTargets.nodes.map((n) => one(n + path)), one(probeTargets.s3)]);
  return ` [directly: ${answers.map((a, i) => `${i < probeTargets!.nodes.length ? `node${i}` : "s3rver"} ${a}`).join(", ")}]`;
}

/**
 * Asked when a getBlob answers 503: true when s3rver itself does not answer
 * right now (it exits by itself now and then, see rig.ts), so the check can
 * tell the blob store being gone from the deployment failing to serve.
 */
async function s3rverAway(): Promise<boolean> {
  if (!probeTargets) return false;
  try {
    const res = await fetch(probeTargets.s3, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return false;
  } catch {
    return true;
  }
}

/** Tell the checks where the nodes and s3rver are, for the diagnosis of a hung request. */
export function setProbeTargets(rig: { nodes: readonly { url: string }[]; s3: { url: string } }): void {
  probeTargets = { nodes: rig.nodes.map((n) => n.url), s3: rig.s3.url };
}

/**
 * The check that the deployment served the checks' reads without a 5xx, from
 * `afterRecovery` since `from`. A getBlob 503 while s3rver was down having
 * exited by itself is the blob store being away, not the deployment failing
 * to recover: it is excused and counted in the detail. Down means s3rver did
 * not answer when asked right after the 503, or it was in one of the outages
 * its restarter recorded (`s3Outages`, startS3's `respawn`, with 2 s of slack
 * either side for requests in flight and the nodes' reconnection).
 */
export function cleanAfterRecoveryCheck(from: number, s3Outages: readonly { from: number; to: number }[] = [], retried: readonly Retried[] = afterRecovery): Check {
  const excusable = (m: Retried) =>
    m.blob503 !== undefined && (m.blob503.s3rverAway || s3Outages.some((o) => m.at >= o.from - 2000 && m.at <= o.to + 2000));
  const all = retried.slice(from);
  const met = all.filter((m) => !excusable(m)).map((m) => m.what);
  const excused = all.length - met.length;
  const byAnswer = new Map<string, number>();
  for (const m of met) byAnswer.set(m, (byAnswer.get(m) ?? 0) + 1);
  const ok = met.length === 0;
  const note = excused ? `${excused} getBlob 503 while s3rver was down by itself (excused)` : "";
  return {
    name: "reads clean after recovery (no 5xx to the checks)",
    ok,
    ...(ok
      ? note ? { detail: note } : {}
      : {
          detail: [
            `${met.length} retried: ${[...byAnswer].map(([a, n]) => `${a} ×${n}`).join(", ")}`,
            note,
            `s3rver outages recorded: ${s3Outages.length ? s3Outages.map((o) => `${new Date(o.from).toISOString()}–${Number.isFinite(o.to) ? new Date(o.to).toISOString() : "open"}`).join(", ") : "none"}`,
            `first and last retried at ${[all[0], all.at(-1)].map((m) => new Date(m!.at).toISOString()).join(", ")}`,
          ]
            .filter(Boolean)
            .join("; "),
        }),
  };
}

const summary = (items: string[], max = 5) => `${items.length}: ${items.slice(0, max).join("; ")}${items.length > max ? "; ..." : ""}`;

/** Every acknowledged write answered by getRecord with the acknowledged cid. Returns the check and the lost uris. */
export async function checkLedger(url: string, ledger: readonly Ack[]): Promise<{ check: Check; lost: string[] }> {
  const lost: string[] = [];
  const broken: string[] = [];
  await pool(ledger, 8, async (ack) => {
    const [, , repo, collection, rkey] = ack.uri.split("/");
    const res = await getWithRetry(`${url}/xrpc/com.atproto.repo.getRecord?${new URLSearchParams({ repo: repo!, collection: collection!, rkey: rkey! })}`).catch(
      (err: Error) => err,
    );
    if (res instanceof Error) return broken.push(`${ack.uri}: ${res.message}`);
    const body = (await res.json().catch(() => ({}))) as { cid?: string };
    if (res.status === 404 || (res.status === 200 && body.cid !== ack.cid)) lost.push(`${ack.uri} (${res.status}, cid ${body.cid} ≠ ${ack.cid})`);
    else if (res.status !== 200) broken.push(`${ack.uri}: ${res.status}`);
  });
  const ok = lost.length === 0 && broken.length === 0;
  const detail = ok ? undefined : `lost ${summary(lost)}; unreadable ${summary(broken)}`;
  return { check: { name: "acknowledged writes present", ok, ...(detail ? { detail } : {}) }, lost };
}

/** Each repo's getRepo CAR verifies against its PLC signing key and holds its acknowledged records with their cids. */
export async function checkRepos(rig: Rig, dids: readonly string[], ledger: readonly Ack[]): Promise<{ check: Check; revs: Map<string, string> }> {
  const problems: string[] = [];
  const revs = new Map<string, string>();
  for (const did of dids) {
    try {
      const doc = (await (await fetch(`${rig.cluster.plcUrl}/${did}/data`)).json()) as { verificationMethods?: { atproto?: string } };
      const res = await getWithRetry(`${rig.url}/xrpc/com.atproto.sync.getRepo?did=${encodeURIComponent(did)}`);
      if (res.status !== 200) throw new Error(`getRepo ${res.status}`);
      const verified = await verifyRepoCar(new Uint8Array(await res.arrayBuffer()), did, doc.verificationMethods?.atproto);
      revs.set(did, verified.commit.rev);
      const held = new Map(verified.creates.map((c) => [`${c.collection}/${c.rkey}`, c.cid.toString()]));
      for (const ack of ledger.filter((a) => a.did === did)) {
        const path = ack.uri.split("/").slice(3).join("/");
        if (held.get(path) !== ack.cid) problems.push(`${ack.uri} not in the verified CAR (${held.get(path) ?? "absent"})`);
      }
    } catch (err) {
      problems.push(`${did}: ${err}`);
    }
  }
  const ok = problems.length === 0;
  return { check: { name: "repos verify (verifyRepoCar) with their records", ok, ...(ok ? {} : { detail: summary(problems) }) }, revs };
}

/**
 * No fork: per repo, the #commit events a subscriber saw have strictly
 * increasing revs, each one's `since` is the rev before it, and the last is
 * the rev the repo now verifies at.
 */
export function checkChains(report: LoadReport, revs: Map<string, string>): Check {
  const problems: string[] = [];
  report.subscribers.forEach((sub, s) => {
    const last = new Map<string, string>();
    for (const c of sub.commits) {
      const prev = last.get(c.repo);
      if (prev !== undefined && !(c.rev > prev)) problems.push(`sub${s} seq ${c.seq}: rev ${c.rev} not after ${prev}`);
      if (prev !== undefined && c.since !== prev) problems.push(`sub${s} seq ${c.seq}: since ${c.since} ≠ previous rev ${prev}`);
      last.set(c.repo, c.rev);
    }
    for (const [repo, rev] of last) {
      const now = revs.get(repo);
      if (now !== undefined && now !== rev) problems.push(`sub${s} ${repo}: last commit seen ${rev}, repo at ${now}`);
    }
  });
  const ok = problems.length === 0;
  return { name: "no forked commit chain", ok, ...(ok ? {} : { detail: summary(problems) }) };
}

/**
 * Each subscriber caught up with repo_seq and received every seq in it after
 * its cursor, exactly once and in order (seq values may have holes where a
 * transaction rolled back: the table is the truth, not n+1).
 */
export async function checkFirehose(rig: Rig, report: LoadReport, cursor: number): Promise<Check> {
  const sql = postgresjs(rig.cluster.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const max = Number((await sql`select coalesce(max(seq), 0)::int as max from repo_seq`)[0]!.max);
    const problems: string[] = [];
    await Promise.all(
      report.subscribers.map(async (sub, s) => {
        await eventually(() => sub.last >= max, { timeoutMs: 20_000, intervalMs: 100, what: `subscriber ${s} reaching seq ${max}` }).catch((err) =>
          problems.push(`sub${s}: ${(err as Error).message} (at ${sub.last})`),
        );
      }),
    );
    const rows = await sql`select seq from repo_seq where seq > ${cursor} and seq <= ${max} order by seq`;
    const truth = rows.map((r) => Number(r.seq));
    report.subscribers.forEach((sub, s) => {
      const seen = sub.seqs.filter((q) => q <= max);
      const dupes = seen.length - new Set(seen).size;
      const unordered = seen.some((q, i) => i > 0 && q <= seen[i - 1]!);
      const have = new Set(seen);
      const missing = truth.filter((q) => !have.has(q));
      if (dupes || unordered || missing.length) {
        problems.push(`sub${s}: ${missing.length} missing (${missing.slice(0, 5).join(",")}), ${dupes} duplicated, ${unordered ? "out of order" : "in order"}, ${sub.errors.length} errors`);
      }
    });
    const ok = problems.length === 0;
    return { name: "firehose gap-free (resumed from cursor after errors)", ok, ...(ok ? {} : { detail: summary(problems) }) };
  } finally {
    await sql.end();
  }
}

/** Every blob a post embeds is served by getBlob with bytes hashing to its cid. */
export async function checkBlobs(url: string, ledger: readonly Ack[]): Promise<Check> {
  const problems: string[] = [];
  await pool(ledger.filter((a) => a.blob), 6, async (ack) => {
    const res = await getWithRetry(`${url}/xrpc/com.atproto.sync.getBlob?${new URLSearchParams({ did: ack.did, cid: ack.blob! })}`).catch(
      (err: Error) => err,
    );
    if (res instanceof Error) return problems.push(`${ack.blob} of ${ack.uri}: ${res.message}`);
    if (res.status !== 200) return problems.push(`${ack.blob} of ${ack.uri}: ${res.status}`);
    const digest = await sha256.digest(new Uint8Array(await res.arrayBuffer()));
    if (!equal(digest.digest, CID.parse(ack.blob!).multihash.digest)) problems.push(`${ack.blob}: served bytes do not hash to it`);
  });
  const ok = problems.length === 0;
  return { name: "referenced blobs served", ok, ...(ok ? {} : { detail: summary(problems) }) };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Once the load has stopped and the sweeper ran (rig.SWEEP), no temp blob row and no tmp/ object is left. */
export async function checkOrphans(rig: Rig): Promise<Check> {
  const sql = postgresjs(rig.cluster.databaseUrl, { max: 1, onnotice: () => {} });
  const s3 = new S3Client({ endpoint: rig.s3.url, region: "us-east-1", forcePathStyle: true, credentials: S3_CREDENTIALS });
  let last = "";
  try {
    await eventually(
      async () => {
        const n = Number((await sql`select count(*)::int as n from blob where temp_key is not null`)[0]!.n);
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: S3_BUCKET, Prefix: `${rig.cluster.bucketPrefix}tmp/` }));
        const objects = listed.KeyCount ?? 0;
        last = `${n} temp rows, ${objects} tmp/ objects`;
        return n === 0 && objects === 0;
      },
      { timeoutMs: SWEEP.olderThanMs + 4 * SWEEP.intervalMs, intervalMs: 500, what: "the sweeper clearing temp blobs" },
    );
    return { name: "no orphan temp blob after the sweep", ok: true };
  } catch (err) {
    return { name: "no orphan temp blob after the sweep", ok: false, detail: last ? `still ${last}` : String((err as Error).cause ?? err) };
  } finally {
    await sql.end();
    s3.destroy();
  }
}

/** Errors other than CLEAN_ERRORS (a 500, a refused connection, a 4xx the fault caused) and 200s with a bad body. */
export function failures(samples: readonly Sample[]): Sample[] {
  return samples.filter((s) => (s.outcome === 200 ? s.detail !== undefined : !CLEAN_ERRORS.has(s.outcome)));
}

export function cleanErrorsCheck(samples: readonly Sample[]): Check {
  const bad = failures(samples);
  const ok = bad.length === 0;
  return {
    name: "errors only 429/502/503/504 or timeouts",
    ok,
    ...(ok ? {} : { detail: summary(bad.map((s) => `${s.kind} ${s.outcome} in ${s.phase} after ${s.ms} ms: ${s.detail ?? ""}`)) }),
  };
}

/**
 * Seconds from the end of a fault window to the first write acknowledged that
 * started after it; the worst over the windows, null if one never recovered.
 */
export function recoverySeconds(report: LoadReport): number | null {
  let worst: number | null = null;
  for (const { end } of report.windows) {
    const first = report.ledger.filter((a) => a.startedAt >= end).sort((a, b) => a.ackedAt - b.ackedAt)[0];
    if (!first) return null;
    worst = Math.max(worst ?? 0, (first.ackedAt - end) / 1000);
  }
  return worst;
}

/** Non-200 outcomes by status, over all samples. */
export function errorsByStatus(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) if (s.outcome !== 200) out[String(s.outcome)] = (out[String(s.outcome)] ?? 0) + 1;
  return out;
}
