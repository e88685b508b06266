import { ownCpuSeconds } from "./proc";

export interface LoadOptions {
  /** Requests in flight at once. */
  concurrency: number;
  /** Stop after this many requests have been started. */
  maxRequests: number;
  /** Stop starting requests after this long, ms. */
  maxMs: number;
  /** Send request number `i` and read its whole response; throw on failure. */
  send(i: number): Promise<void>;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  /** Per-request latency, ms (successful requests only). */
  latencyMs: Latency;
  /** The load generator's own CPU use during the run, as a fraction of one core. */
  clientCpu: number;
  /** The first failure, to tell a broken endpoint from a slow one. */
  firstError?: string;
}

/**
 * Closed-loop load: `concurrency` workers each send, wait for the full
 * response, and send again, until the request count or the time is used up.
 * Bounded in both, so a stuck server costs at most `maxMs` plus one timeout.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies = new Float64Array(opts.maxRequests);
  let next = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + opts.maxMs;
  const cpu0 = ownCpuSeconds();

  const worker = async () => {
    while (next < opts.maxRequests && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        await opts.send(i);
        latencies[ok++] = performance.now() - t0;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));

  const seconds = (performance.now() - start) / 1000;
  const result: LoadResult = {
    requests: ok,
    errors,
    seconds,
    perSecond: ok / seconds,
    latencyMs: summarize(latencies.subarray(0, ok)),
    clientCpu: (ownCpuSeconds() - cpu0) / seconds,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

/** Nearest-rank percentiles of a sample, ms. */
export function summarize(sample: Float64Array | number[]): Latency {
  const sorted = Float64Array.from(sample).sort();
  const n = sorted.length;
  if (n === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]!, mean: sum / n };
}
