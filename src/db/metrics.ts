import type { CompiledQuery, DatabaseConnection, Dialect, Driver, LogEvent } from "kysely";
import { Gauge, type Registry } from "prom-client";
import { LabelledCounter, LabelledHistogram } from "@/util/labelled-metrics";
import { type ImmediateRunner, immediateRunner, offerImmediate } from "./immediate";

const OPERATIONS = new Set(["SELECT", "INSERT", "UPDATE", "DELETE"]);
/** Distinct table labels kept; SQL comes from our code, so this only guards against a surprise. */
const MAX_TABLES = 64;
/** Parsed SQL texts remembered; Kysely's `in (...)` lists make the set of texts open-ended. */
const MAX_MEMO = 1000;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The Scalability Guide's database metrics for one plugin:
 * `aurora_db_queries_total{operation,table}`,
 * `aurora_db_query_duration_seconds{operation,table}` (fed by Kysely's
 * `log` option) and `aurora_db_connections{state}` with state active (in
 * use by a query or transaction), idle, total (open) and max (pool size).
 */
export interface DbMetrics {
  /** Kysely's `log` option: counts and times every query, failed ones included. */
  readonly log: (event: LogEvent) => void;
  /** The dialect with its driver wrapped to count connections in use. */
  instrument(dialect: Dialect): Dialect;
  /** A connection was opened (PostgreSQL: its socket was created); it is open until `connectionClosed`. */
  readonly connectionOpened: () => void;
  /** An opened connection closed (PostgreSQL: its socket closed, whether or not it ever connected). */
  readonly connectionClosed: () => void;
}

type QueryLabels = { operation: string; table: string };

/**
 * `inUse`, when the plugin knows better, says how many connections are in use: on PostgreSQL several
 * statements share a connection (pipelined), so statements in flight are not connections in use.
 */
export function createDbMetrics(registry: Registry, maxConnections: number, inUseOf?: () => number): DbMetrics {
  const labelNames = ["operation", "table"] as const;
  // Every query updates these two: the cheaper kind of metric (util/labelled-metrics.ts).
  const queries = single(registry, "aurora_db_queries_total", () => new LabelledCounter(registry, {
    name: "aurora_db_queries_total",
    help: "Database queries run, by operation (SELECT, INSERT, UPDATE, DELETE, OTHER) and first table",
    labelNames,
  }));
  const duration = single(registry, "aurora_db_query_duration_seconds", () => new LabelledHistogram(registry, {
    name: "aurora_db_query_duration_seconds",
    help: "Database query duration in seconds, by operation and first table",
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5],
  }));
  let open = 0;
  let inUse = 0;
  // The registry keeps the first gauge; a plugin initialised again on it (a restart in tests) takes over its source.
  sources.set(registry, () => {
    const active = inUseOf ? inUseOf() : inUse;
    return { active, total: Math.max(open, active), max: maxConnections };
  });
  single(registry, "aurora_db_connections", () => new Gauge({
    name: "aurora_db_connections",
    help: "Database connections by state: active (in use), idle, total (open) and max (pool size)",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const { active, total, max } = sources.get(registry)!();
      this.set({ state: "active" }, active);
      this.set({ state: "idle" }, Math.max(0, total - active));
      this.set({ state: "total" }, total);
      this.set({ state: "max" }, max);
    },
  }));

  const memo = new Map<string, QueryLabels>();
  const tables = new Set<string>();
  const labelsOf = (sql: string): QueryLabels => {
    let labels = memo.get(sql);
    if (!labels) {
      labels = parseQuery(sql);
      if (labels.table !== "none" && !tables.has(labels.table)) {
        if (tables.size >= MAX_TABLES) labels = { ...labels, table: "other" };
        else tables.add(labels.table);
      }
      if (memo.size >= MAX_MEMO) memo.clear();
      memo.set(sql, labels);
    }
    return labels;
  };

  const log = (event: LogEvent) => {
    const labels = labelsOf(event.query.sql);
    queries.inc(labels);
    duration.observe(labels, event.queryDurationMillis / 1000);
  };

  return {
    log,
    instrument(dialect) {
      return {
        createAdapter: () => {
          const adapter = dialect.createAdapter();
          const runner = immediateRunner(adapter);
          if (runner) offerImmediate(adapter, timedRunner(runner, log, (delta) => void (inUse += delta)));
          return adapter;
        },
        createQueryCompiler: () => dialect.createQueryCompiler(),
        createIntrospector: (db) => dialect.createIntrospector(db),
        createDriver: () =>
          countingDriver(dialect.createDriver(), (delta) => {
            inUse += delta;
          }),
      };
    },
    connectionOpened: () => void open++,
    connectionClosed: () => void (open = Math.max(0, open - 1)),
  };
}

const sources = new WeakMap<Registry, () => { active: number; total: number; max: number }>();

/** prom-client refuses a second metric of one name on a registry: reuse the first. */
function single<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** The statement's operation and its first table, from the compiled SQL (cheap: a few anchored regexes). */
export function parseQuery(sql: string): QueryLabels {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "";
  if (verb === "WITH") {
    // A statement whose CTEs write (the sequencer's lock-and-insert) counts as its first write.
    const write = /\b(insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from)\s+[^\s(]/i.exec(sql);
    if (write) return parseQuery(sql.slice(write.index));
  }
  const operation = OPERATIONS.has(verb) ? verb : "OTHER";
  const target =
    verb === "INSERT" ? /^\s*insert\s+(?:or\s+\w+\s+)?into\s+([^\s(]+)/i.exec(sql)
    : verb === "UPDATE" ? /^\s*update\s+(?:or\s+\w+\s+)?([^\s(]+)/i.exec(sql)
    : /\bfrom\s+([^\s(),;]+)/i.exec(sql);
  const name = target?.[1]?.split(".").pop()?.replaceAll('"', "").replaceAll("`", "");
  return { operation, table: name && IDENTIFIER.test(name) ? name.toLowerCase() : "none" };
}

/**
 * Statements run by an immediate runner, counted and timed as Kysely's `log` would have them; one that
 * answers later (a promise, PostgreSQL's pool) counts as a connection in use until it settles, as a query
 * through Kysely's driver does.
 */
function timedRunner(runner: ImmediateRunner, log: (event: LogEvent) => void, inUse: (delta: number) => void): ImmediateRunner {
  return {
    run<R>(query: CompiledQuery, inTransaction: boolean) {
      const started = performance.now();
      const failed = (error: unknown) => log({ level: "error", error, query, queryDurationMillis: performance.now() - started });
      try {
        const result = runner.run<R>(query, inTransaction);
        if (!(result instanceof Promise)) {
          if (result) log({ level: "query", isStream: false, query, queryDurationMillis: performance.now() - started });
          return result;
        }
        inUse(1);
        return result.then(
          (value) => {
            inUse(-1);
            log({ level: "query", isStream: false, query, queryDurationMillis: performance.now() - started });
            return value;
          },
          (error: unknown) => {
            inUse(-1);
            failed(error);
            throw error;
          },
        );
      } catch (error) {
        failed(error);
        throw error;
      }
    },
  };
}

function countingDriver(driver: Driver, count: (delta: number) => void): Driver {
  return {
    init: () => driver.init(),
    async acquireConnection(): Promise<DatabaseConnection> {
      const connection = await driver.acquireConnection();
      count(1);
      return connection;
    },
    async releaseConnection(connection) {
      count(-1);
      await driver.releaseConnection(connection);
    },
    beginTransaction: (connection, settings) => driver.beginTransaction(connection, settings),
    commitTransaction: (connection) => driver.commitTransaction(connection),
    rollbackTransaction: (connection) => driver.rollbackTransaction(connection),
    ...(driver.savepoint && { savepoint: (c, name, compile) => driver.savepoint!(c, name, compile) }),
    ...(driver.rollbackToSavepoint && {
      rollbackToSavepoint: (c, name, compile) => driver.rollbackToSavepoint!(c, name, compile),
    }),
    ...(driver.releaseSavepoint && { releaseSavepoint: (c, name, compile) => driver.releaseSavepoint!(c, name, compile) }),
    destroy: () => driver.destroy(),
  } satisfies Driver;
}
