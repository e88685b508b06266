/** Print one JSON document on stdout (the `--json` output of every admin command). */
export function printJson(value: unknown): number {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  return 0;
}

/** Aligned columns with a header row, two spaces apart; an empty cell shows as "-". */
export function table(headers: string[], rows: (string | undefined)[][]): string {
  const cells = [headers, ...rows.map((row) => headers.map((_, i) => clean(row[i])))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n") + "\n";
}

/** `Label : value` lines with the labels aligned; pairs without a value are left out. */
export function fields(pairs: [string, string | undefined][]): string {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== undefined && p[1] !== "");
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)} : ${clean(value)}`).join("\n") + "\n";
}

/** Control characters (a hostile handle or email with escape codes) never reach the terminal. */
function clean(value: string | undefined): string {
  if (value === undefined || value === "") return "-";
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
