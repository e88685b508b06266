/** Reports how far a copy is, one stage (a table, the blob bytes, a check) at a time. */
export interface Progress {
  /** Start a stage of `total` units (undefined when unknown); rows are counted, bytes are sized. */
  stage(name: string, total: number | undefined, unit: "rows" | "bytes"): StageProgress;
}

export interface StageProgress {
  advance(n: number): void;
  done(): void;
}

/** Redraws of the bar at most this often. */
const DRAW_MS = 100;
/** Without a terminal: a line for each further tenth of the stage, at most this often... */
const STEP_MS = 1_000;
/** ...and one at least this often while a stage runs. */
const LINE_MS = 5_000;

/**
 * A bar per stage on a terminal (count or bytes, percentage, rate, ETA,
 * redrawn in place), one plain line per stage start, step and finish
 * otherwise (logs, pipes, CI).
 */
export function createProgress(out: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown }): Progress {
  const tty = Boolean(out.isTTY);
  return {
    stage(name, total, unit) {
      const started = performance.now();
      let done = 0;
      let drawn = 0;
      let lastLine = started;
      let lastFraction = 0;
      const line = (state: string) => `[move] ${name}: ${state}`;
      const status = () => {
        const seconds = (performance.now() - started) / 1000;
        const rate = seconds > 0 ? done / seconds : 0;
        const left = total !== undefined && rate > 0 ? (total - done) / rate : undefined;
        const count =
          total === undefined ? amount(done, unit) : unit === "rows" ? `${done}/${total} rows` : `${amount(done, unit)}/${amount(total, unit)}`;
        const pct = total ? ` ${Math.floor((done / total) * 100)}%` : "";
        return { count, pct, rate: `${amount(rate, unit)}/s`, eta: left === undefined ? "" : ` ETA ${duration(left)}` };
      };
      if (!tty) out.write(`${line(`start${total === undefined ? "" : `, ${amount(total, unit)}`}`)}\n`);
      const draw = () => {
        const s = status();
        const width = 24;
        const filled = total ? Math.min(width, Math.round((done / total) * width)) : 0;
        const bar = total ? `[${"#".repeat(filled)}${".".repeat(width - filled)}]` : "";
        out.write(`\r\x1b[2K${line(`${bar} ${s.count}${s.pct} ${s.rate}${s.eta}`)}`);
      };
      if (tty) draw();
      return {
        advance(n) {
          done += n;
          const now = performance.now();
          if (tty) {
            if (now - drawn >= DRAW_MS) {
              drawn = now;
              draw();
            }
            return;
          }
          const fraction = total ? done / total : 0;
          if (total !== undefined && done >= total) return; // done() says so
          if ((fraction - lastFraction >= 0.1 && now - lastLine >= STEP_MS) || now - lastLine >= LINE_MS) {
            lastFraction = fraction;
            lastLine = now;
            const s = status();
            out.write(`${line(`${s.count}${s.pct}, ${s.rate}${s.eta}`)}\n`);
          }
        },
        done() {
          const seconds = (performance.now() - started) / 1000;
          const rate = seconds > 0 ? `, ${amount(done / seconds, unit)}/s` : "";
          const summary = line(`done, ${amount(done, unit)} in ${duration(seconds)}${rate}`);
          out.write(tty ? `\r\x1b[2K${summary}\n` : `${summary}\n`);
        },
      };
    },
  };
}

/** A Progress that reports nothing (library callers, tests). */
export const silentProgress: Progress = { stage: () => ({ advance() {}, done() {} }) };

function amount(n: number, unit: "rows" | "bytes"): string {
  if (unit === "rows") return `${Math.round(n)} rows`;
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
