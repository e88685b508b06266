/**
 * A small filesystem of its own for the disk-full fault: a tmpfs mounted on a
 * fresh directory, so filling it up touches nothing but the node whose data
 * directory lives there (never / or /tmp). Needs root and a kernel that lets
 * this container mount tmpfs; `mountSmallFs` says why not when it cannot.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "@test/support/process";

export interface SmallFs {
  /** Where it is mounted. */
  readonly dir: string;
  /** Bytes still free for an unprivileged write. */
  free(): number;
  /** Write a filler file until the filesystem refuses even 4 KiB (ENOSPC); returns the bytes it took. */
  fill(): number;
  /** Delete the filler file, giving its space back. */
  release(): void;
  /** Unmount and remove the mount point. */
  unmount(): Promise<void>;
}

/** Mount a tmpfs of `sizeMb` MiB, or return the reason it could not be mounted here. */
export async function mountSmallFs(sizeMb: number): Promise<SmallFs | string> {
  const dir = mkdtempSync(join(tmpdir(), "aurora-smallfs-"));
  const mounted = await runCommand(["mount", "-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0700`, "tmpfs", dir], { timeoutMs: 10_000 });
  if (mounted.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${(mounted.stderr || mounted.stdout).trim()}`;
  }
  const filler = join(dir, "filler");
  return {
    dir,
    free: () => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    fill() {
      const fd = openSync(filler, "a");
      let written = 0;
      try {
        for (const size of [1 << 20, 1 << 12]) {
          const chunk = new Uint8Array(size).fill(0x55);
          // Bounded: a 64 MiB filesystem takes at most 64 of the large chunks and 256 of the small per MiB.
          for (let i = 0; i < 1_000_000; i++) {
            try {
              written += writeSync(fd, chunk);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
              throw err;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    release: () => unlinkSync(filler),
    async unmount() {
      const res = await runCommand(["umount", dir], { timeoutMs: 10_000 });
      if (res.code !== 0) throw new Error(`umount ${dir}: ${res.stderr.trim()}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
