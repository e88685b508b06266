import type { Compilable, CompiledQuery, DialectAdapter, QueryResult } from "kysely";
import type { Db, DbTransaction } from "@/contracts/db";
import { immediateRunner } from "./immediate";

/** Stands for one parameter while a query is built; the compiler passes it through to its parameter list. */
class Slot {
  constructor(
    readonly name: string,
    readonly index?: number,
    readonly field?: string,
  ) {}
  valueIn(args: Record<string, unknown>): unknown {
    const value = args[this.name];
    if (this.index === undefined) return value;
    const item = (value as readonly unknown[])[this.index];
    return this.field === undefined ? item : (item as Record<string, unknown>)[this.field];
  }
}

/** Compile-time stand-ins for the parameters of a `prepared` query. */
export interface Params<P> {
  /** The parameter `name`. */
  <K extends keyof P & string>(name: K): P[K];
  /** The elements of array parameter `name`, for `in (...)` lists: one compiled text per length. */
  list<K extends keyof P & string>(name: K): P[K];
  /** The rows of array parameter `name` for a multi-row insert, with `columns` of each: one text per row count. */
  rows<K extends keyof P & string, C extends string>(name: K, columns: readonly C[]): P[K];
}

export interface PreparedQuery<P, R> {
  /** Run with `args` in `db` (a transaction or not); the compiled text is reused, only parameters are new. */
  execute(db: Db | DbTransaction, args: P): Promise<QueryResult<R>>;
  /** The rows of `execute`. */
  rows(db: Db | DbTransaction, args: P): Promise<R[]>;
}

type Template = { compiled: CompiledQuery; slots: (Slot | { value: unknown })[] };

/**
 * A Kysely query built and compiled once per database and array shape, then
 * run with new parameters: no builder cloning and no compilation per request.
 * `build` gets stand-ins instead of values (`$("did")`, `$.list("cids")`,
 * `$.rows("blocks", [...columns])`) and must not branch on them; everything
 * that changes the SQL text other than array lengths belongs in a separate
 * prepared query. Compiled texts are kept per dialect adapter, that is per
 * Kysely instance (a transaction shares its parent's). A dialect that offers
 * an immediate runner (SQLite's, PostgreSQL's) runs them without Kysely's executor when it
 * can, with the same metrics.
 */
export function prepared<P extends Record<string, unknown>, R>(
  build: (db: Db, $: Params<P>) => Compilable<R>,
): PreparedQuery<P, R> {
  const byAdapter = new WeakMap<DialectAdapter, Map<string, Template>>();

  const template = (db: Db | DbTransaction, adapter: DialectAdapter, args: P): Template => {
    let shapes = byAdapter.get(adapter);
    if (!shapes) byAdapter.set(adapter, (shapes = new Map()));
    const shape = shapeOf(args);
    let found = shapes.get(shape);
    if (!found) {
      found = compile(db as Db, build, args);
      // Array lengths are bounded by the callers' batch sizes; a runaway set of shapes is a bug.
      if (shapes.size >= MAX_SHAPES) shapes.clear();
      shapes.set(shape, found);
    }
    return found;
  };

  const execute = (db: Db | DbTransaction, args: P): Promise<QueryResult<R>> => {
    const adapter = db.getExecutor().adapter;
    const { compiled, slots } = template(db, adapter, args);
    const query = { ...compiled, parameters: slots.map((s) => (s instanceof Slot ? s.valueIn(args) : s.value)) };
    // SQLite runs it on the spot when its connection is free, PostgreSQL sends it to the pool outside a transaction
    // (src/db/immediate.ts); otherwise it goes through Kysely's executor.
    const runner = immediateRunner(adapter);
    if (runner) {
      try {
        const result = runner.run<R>(query, db.isTransaction);
        if (result) return Promise.resolve(result);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return db.executeQuery<R>(query);
  };

  return {
    execute,
    rows: async (db, args) => (await execute(db, args)).rows,
  };
}

/** Compiled texts kept per prepared query and adapter. */
const MAX_SHAPES = 64;

function shapeOf(args: Record<string, unknown>): string {
  let shape = "";
  for (const key in args) {
    const value = args[key];
    if (Array.isArray(value)) shape += `${key}:${value.length};`;
  }
  return shape;
}

function compile<P extends Record<string, unknown>, R>(db: Db, build: (db: Db, $: Params<P>) => Compilable<R>, args: P): Template {
  const length = (name: string) => {
    const value = args[name];
    if (!Array.isArray(value)) throw new TypeError(`prepared: parameter ${name} is not an array`);
    return value.length;
  };
  const $ = ((name: string) => new Slot(name)) as Params<P>;
  $.list = ((name: string) => Array.from({ length: length(name) }, (_, i) => new Slot(name, i))) as Params<P>["list"];
  $.rows = ((name: string, columns: readonly string[]) =>
    Array.from({ length: length(name) }, (_, i) =>
      Object.fromEntries(columns.map((column) => [column, new Slot(name, i, column)])),
    )) as Params<P>["rows"];
  const compiled = build(db, $).compile();
  return { compiled, slots: compiled.parameters.map((p) => (p instanceof Slot ? p : { value: p })) };
}
