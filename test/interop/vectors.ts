import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The official atproto interop vectors, beside the project clone (../shared/interop). */
export const INTEROP = resolve(import.meta.dir, "../../../shared/interop");

export function interopJson<T>(path: string): T {
  return JSON.parse(readFileSync(resolve(INTEROP, path), "utf8")) as T;
}

/** A syntax vector file: one value per line; `#` comments and blank lines skipped. */
export function interopLines(path: string): string[] {
  return readFileSync(resolve(INTEROP, path), "utf8")
    .split("\n")
    .filter((line) => line.length > 0 && !line.startsWith("#"));
}
