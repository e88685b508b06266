import type { Metric, Registry } from "prom-client";

/**
 * A counter and a histogram for the metrics every request and every query
 * updates (`aurora_http_*`, `aurora_db_*`), registered on a prom-client
 * registry and scraped exactly as prom-client's own (same text, same
 * `get()`). prom-client checks the label names and hashes the sorted label
 * set on every `inc`/`observe`: measured, that was about a quarter of a
 * getRecord's CPU in process. Here a series is found by its label values in
 * `labelNames` order through one small map per label, and the names are
 * checked once, when a series is first seen. Label values are strings the
 * code chooses (route templates, status codes, operations), so the number of
 * series stays bounded, as with prom-client.
 */
abstract class Labelled<N extends string, S> {
  readonly aggregator = "sum";
  private root = new Map<string, unknown>();
  /** Series in the order first seen, as prom-client lists them. */
  protected all: { labels: Record<N, string>; series: S }[] = [];

  constructor(
    registry: Registry,
    public name: string,
    readonly help: string,
    private readonly labelNames: readonly N[],
  ) {
    if (labelNames.length === 0) throw new TypeError(`${name}: at least one label name`);
    registry.registerMetric(this as unknown as Metric);
  }

  protected abstract create(): S;

  protected series(labels: Readonly<Record<N, string>>): S {
    const names = this.labelNames;
    let node = this.root;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      const value = labels[names[i]!];
      let next = node.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(value, (next = new Map()));
      node = next;
    }
    const value = labels[names[last]!];
    let series = node.get(value) as S | undefined;
    if (series === undefined) {
      series = this.create();
      this.all.push({ labels: this.checked(labels), series });
      node.set(value, series);
    }
    return series;
  }

  /** A copy of a new series' labels, refused unless they are exactly `labelNames` with string values. */
  private checked(labels: Readonly<Record<N, string>>): Record<N, string> {
    const keys = Object.keys(labels);
    const ok = keys.length === this.labelNames.length && this.labelNames.every((n) => typeof labels[n] === "string");
    if (!ok) throw new TypeError(`${this.name}: labels ${keys.join(",")} are not ${this.labelNames.join(",")}`);
    return { ...labels };
  }

  reset(): void {
    this.root = new Map();
    this.all = [];
  }
}

type Value = { value: number; labels: Record<string, string | number>; metricName?: string };

export class LabelledCounter<N extends string> extends Labelled<N, { value: number }> {
  readonly type = "counter";

  constructor(registry: Registry, options: { name: string; help: string; labelNames: readonly N[] }) {
    super(registry, options.name, options.help, options.labelNames);
  }

  protected create() {
    return { value: 0 };
  }

  inc(labels: Readonly<Record<N, string>>, value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new TypeError(`${this.name}: cannot increase by ${value}`);
    this.series(labels).value += value;
  }

  async get() {
    const values: Value[] = this.all.map(({ labels, series }) => ({ value: series.value, labels }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

type HistogramSeries = { counts: Float64Array; sum: number; count: number };

export class LabelledHistogram<N extends string> extends Labelled<N, HistogramSeries> {
  readonly type = "histogram";
  private readonly bounds: Float64Array;

  constructor(registry: Registry, options: { name: string; help: string; labelNames: readonly N[]; buckets: readonly number[] }) {
    super(registry, options.name, options.help, options.labelNames);
    this.bounds = Float64Array.from([...options.buckets].sort((a, b) => a - b));
  }

  protected create(): HistogramSeries {
    return { counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
  }

  observe(labels: Readonly<Record<N, string>>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a valid number: ${value}`);
    const series = this.series(labels);
    const bounds = this.bounds;
    // Counts per bucket, not cumulative: a value above every bound counts only in +Inf (the total).
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        series.counts[i]! += 1;
        break;
      }
    }
    series.sum += value;
    series.count += 1;
  }

  /** What prom-client's registry formats: bucket lines carry `le` and the series' labels as shared labels. */
  async getForPromString() {
    const values: (Value & { sharedLabels: Record<string, string> })[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, series } of this.all) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: labels, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf" }, sharedLabels: labels, value: series.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same values with the shared labels folded in, as prom-client's `get()` gives them. */
  async get() {
    const data = await this.getForPromString();
    const values: Value[] = data.values.map(({ labels, sharedLabels, value, metricName }) => ({ value, metricName, labels: { ...labels, ...sharedLabels } }));
    return { ...data, values };
  }
}
