/**
 * Put the fault suite's figures into docs/RELIABILITY.md: the table between
 * its faults-table markers is replaced by one rendered from the results file.
 *
 *   bun test/faults/render-table.ts [results.json] [RELIABILITY.md]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readResults, renderTable, resultsPath } from "./results";

const START = "<!-- faults-table:start -->";
const END = "<!-- faults-table:end -->";

/** `doc` with the text between the markers replaced by the table of `resultsFile`. */
export function renderInto(doc: string, resultsFile: string): string {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the document has no ${START} ... ${END} markers to put the table between`);
  const file = readResults(resultsFile);
  if (file.results.length === 0) throw new Error(`${resultsFile} has no results: run npm run test:faults first`);
  const body = `${START}\n${renderTable(file)}\n\nMeasured on ${file.machine}; entries from ${earliest(file.results.map((r) => r.at))}.\n${END}`;
  return doc.slice(0, start) + body + doc.slice(end + END.length);
}

function earliest(times: string[]): string {
  const sorted = [...times].sort();
  return sorted[0] === sorted.at(-1) ? sorted[0]! : `${sorted[0]} to ${sorted.at(-1)}`;
}

if (import.meta.main) {
  const results = process.argv[2] ?? resultsPath();
  const docPath = process.argv[3] ?? join(import.meta.dir, "../../docs/RELIABILITY.md");
  writeFileSync(docPath, renderInto(readFileSync(docPath, "utf8"), results));
  console.log(`${docPath}: table rendered from ${results}`);
}
