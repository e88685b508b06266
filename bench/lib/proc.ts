import { readFileSync, writeFileSync } from "node:fs";

/** Kernel clock ticks per second for /proc/<pid>/stat CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface Memory {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak RSS since start or since the last `resetPeakRss`, MB. */
  peakRssMb: number;
}

/** VmRSS and VmHWM from /proc/<pid>/status. */
export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakRssMb: kb("VmHWM") / 1024 };
}

/** Several processes' memory added up (the peak as the sum of each one's peak: an upper bound). */
export function totalMemory(pids: number[]): Memory {
  const all = pids.map(memory);
  return { rssMb: all.reduce((sum, m) => sum + m.rssMb, 0), peakRssMb: all.reduce((sum, m) => sum + m.peakRssMb, 0) };
}

/** Reset VmHWM to the current RSS (Linux: write 5 to clear_refs), so the next peak belongs to one workload. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU seconds the process has used (threads included). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of several processes together. */
export function totalCpuSeconds(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** CPU seconds every process on the machine has used (all cores, from /proc/stat), to see whether the box itself is saturated. */
export function machineCpuSeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const busy = fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  return busy / TICKS_PER_SECOND;
}

/** CPU seconds of the load generator itself (process.cpuUsage is in microseconds). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

export interface Machine {
  cores: number;
  model: string;
  memoryGb: number;
  kernel: string;
}

export function machine(): Machine {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  return {
    cores: navigator.hardwareConcurrency,
    model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGb: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024 / 1024),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
  };
}
