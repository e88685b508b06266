import type { LoadResult } from "../lib/load";
import { machineCpuSeconds, totalCpuSeconds } from "../lib/proc";
import { nodePids, type Server } from "../targets/server";

export interface Measured extends LoadResult {
  /** Server CPU (all its threads) per successful request, ms: what a request costs, independent of the client. */
  serverCpuMsPerRequest: number;
  /** Server CPU during the run as a fraction of one core (2.0 = both cores of this machine). */
  serverCpu: number;
  /** Every process on the machine (client, server, its database, anything else running), in cores: near the core count = CPU-bound box. */
  machineCpu: number;
}

export interface LoadLimits {
  concurrency: number;
  maxRequests: number;
  maxMs: number;
}

/** Run a load and attribute the server's CPU time (all its processes) to it. */
export async function measured(server: Server, run: () => Promise<LoadResult>): Promise<Measured> {
  const pids = nodePids(server);
  const cpu0 = totalCpuSeconds(pids);
  const machine0 = machineCpuSeconds();
  const result = await run();
  const cpu = totalCpuSeconds(pids) - cpu0;
  return {
    ...result,
    serverCpuMsPerRequest: result.requests > 0 ? (cpu * 1000) / result.requests : NaN,
    serverCpu: cpu / result.seconds,
    machineCpu: (machineCpuSeconds() - machine0) / result.seconds,
  };
}
