import { goalsFor, improvement, judge, METRICS, ratio } from "./metrics";
import { Canvas, type Rgb, TEXT_HEIGHT } from "./png";
import type { BenchResults } from "./results";

const WIDTH = 1100;
const LABEL_W = 330;
const PLOT_X = LABEL_W + 20;
const PLOT_W = WIDTH - PLOT_X - 110;
const BAR_H = 16;
const BAR_GAP = 3;
const GROUP_GAP = 12;
const TOP = 110;
const COLORS: Rgb[] = [
  [52, 101, 164],
  [230, 126, 34],
  [46, 139, 87],
];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [215, 215, 215];
const GOAL: Rgb = [180, 30, 30];

/**
 * One bar per metric and Aurora profile: how many times better than the
 * reference (log scale, 1× in the middle, right of it = Aurora better),
 * with the goal marked in red where it sets one.
 */
export function renderChart(results: BenchResults): Uint8Array {
  const reference = results.targets.find((t) => t.name === "reference");
  const auroras = results.targets.filter((t) => t.name !== "reference");
  const rows = METRICS.map((metric) => ({
    metric,
    bars: auroras.map((a) => {
      const r = reference ? ratio(metric, a, reference) : undefined;
      const goals = goalsFor(metric, a.name).filter((g) => g.against === "reference");
      const met = goals.length === 0 || !reference ? undefined : goals.every((g) => judge(metric, g, a, reference, undefined)?.met === true);
      return r === undefined ? undefined : { r, x: improvement(metric, r), goal: goals[0]?.value, met };
    }),
  }));
  const groupH = Math.max(1, auroras.length) * (BAR_H + BAR_GAP) + GROUP_GAP;
  const height = TOP + rows.length * groupH + 60;
  const canvas = new Canvas(WIDTH, height);

  const { machine: m, versions: v } = results;
  canvas.text(20, 16, "Aurora vs the reference PDS: times better (log scale, right of 1× = Aurora better)", INK, 2);
  canvas.text(20, 44, `${m.cores} cores, ${m.model} - Aurora ${v.aurora} (Bun ${v.bun}) - atproto/pds ${v.reference ?? "not run"} (Node ${v.referenceNode ?? "-"}) - ${results.date.slice(0, 10)}`, INK, 1);
  auroras.forEach((a, i) => {
    const x = 20 + i * 260;
    canvas.rect(x, 66, 14, 14, COLORS[i % COLORS.length]!);
    canvas.text(x + 22, 66, a.name, INK, 2);
  });
  canvas.rect(20 + auroras.length * 260, 72, 14, 3, GOAL);
  canvas.text(42 + auroras.length * 260, 66, "goal", INK, 2);

  const all = rows.flatMap((row) => row.bars.flatMap((b) => (b ? [b.x, ...(b.goal === undefined ? [] : [improvement(row.metric, b.goal)])] : [])));
  // At least one decade either side of 1×, more where the data reach.
  const lo = Math.min(-1, Math.floor(Math.log10(Math.min(...all, 1))));
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(...all, 1))));
  const xOf = (factor: number) => PLOT_X + ((Math.log10(factor) - lo) / (hi - lo)) * PLOT_W;
  const plotBottom = TOP + rows.length * groupH;
  for (let d = lo; d <= hi; d++) {
    const x = xOf(10 ** d);
    canvas.rect(x, TOP - 8, 1, plotBottom - TOP + 8, d === 0 ? INK : GRID);
    const label = `${10 ** d < 1 ? (10 ** d).toString() : 10 ** d}×`;
    canvas.text(x - Canvas.textWidth(label, 2) / 2, plotBottom + 10, label, INK, 2);
  }

  rows.forEach((row, i) => {
    const y = TOP + i * groupH;
    canvas.text(20, y + (groupH - GROUP_GAP - TEXT_HEIGHT(2)) / 2, row.metric.label, INK, 2);
    row.bars.forEach((bar, j) => {
      const by = y + j * (BAR_H + BAR_GAP);
      if (!bar) {
        canvas.text(xOf(1) + 6, by + 1, "no figure", GRID, 2);
        return;
      }
      const x0 = Math.min(xOf(1), xOf(bar.x));
      canvas.rect(x0, by, Math.max(1, Math.abs(xOf(bar.x) - xOf(1))), BAR_H, COLORS[j % COLORS.length]!);
      // Each target's own goal against the reference (they differ: createRecord ≥ 10× on SQLite, ≥ 6× on PostgreSQL).
      const gx = bar.goal === undefined ? undefined : xOf(improvement(row.metric, bar.goal));
      if (gx !== undefined) canvas.rect(gx - 1, by - 1, 3, BAR_H + 2, GOAL);
      const met = bar.met;
      const label = `${bar.x >= 10 ? bar.x.toFixed(0) : bar.x.toFixed(1)}×${met === false ? " goal missed" : ""}`;
      // Right of the bar, and of a goal line it falls short of, so the label never hides the line.
      const lx = Math.max(xOf(1), xOf(bar.x), met === false && gx !== undefined ? gx + 2 : 0) + 6;
      canvas.rect(lx - 2, by, Canvas.textWidth(label, 2) + 2, BAR_H + BAR_GAP, [255, 255, 255]);
      canvas.text(lx, by + 1, label, met === false ? GOAL : INK, 2);
    });
  });
  return canvas.toPng();
}
