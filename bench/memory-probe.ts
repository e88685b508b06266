/**
 * Preloaded into Aurora by `bun bench/memory.ts --probe` (source mode only):
 * on SIGUSR2 it writes the JS heap's figures to `$AURORA_MEMORY_PROBE` as one
 * JSON line: process.memoryUsage() and the largest object types by count
 * (bun:jsc heapStats), then the same after a full synchronous GC, so the
 * driver can tell live data from garbage not yet collected and from memory
 * outside the JS heap. `{pid}` in the path becomes the process id, so several
 * processes can share one setting (the soak's nodes, through BUN_OPTIONS).
 */
import { appendFileSync } from "node:fs";
import { heapStats, memoryUsage } from "bun:jsc";

const MB = 1024 * 1024;
const out = process.env.AURORA_MEMORY_PROBE?.replaceAll("{pid}", String(process.pid));

function snapshot() {
  const m = process.memoryUsage();
  const stats = heapStats();
  const top = Object.entries(stats.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12);
  return {
    rssMb: m.rss / MB,
    heapUsedMb: m.heapUsed / MB,
    heapTotalMb: m.heapTotal / MB,
    externalMb: m.external / MB,
    arrayBuffersMb: m.arrayBuffers / MB,
    heapSizeMb: stats.heapSize / MB,
    heapCapacityMb: stats.heapCapacity / MB,
    extraMemoryMb: stats.extraMemorySize / MB,
    mimallocCommitMb: memoryUsage().currentCommit / MB,
    objects: stats.objectCount,
    top,
  };
}

if (out) {
  process.on("SIGUSR2", () => {
    const before = snapshot();
    const t0 = performance.now();
    Bun.gc(true);
    const gcMs = performance.now() - t0;
    const after = { ...snapshot(), gcMs };
    appendFileSync(out, `${JSON.stringify({ before, after })}\n`);
  });
}
