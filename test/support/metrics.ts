import type { Registry } from "prom-client";

/** The value of one exposition line (`name{labels}`) of `registry`, or undefined when it has none. */
export async function metricSample(registry: Registry, line: string): Promise<number | undefined> {
  const match = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${line} `));
  return match === undefined ? undefined : Number(match.slice(line.length + 1));
}

/** The sum of every labelled sample of metric `name` (`name{...} value` lines). */
export async function metricTotal(registry: Registry, name: string): Promise<number> {
  return (await registry.metrics())
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}
