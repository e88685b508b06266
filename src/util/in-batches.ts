/**
 * Rows per statement for `IN (...)` lists and multi-row inserts: at up to 5
 * columns a row, well under SQLite's 32766 bound variables and PostgreSQL's 65535.
 */
export const SQL_BATCH = 500;

/**
 * `fn` over consecutive chunks of `items` (at most `size` each), one after
 * another (a transaction runs one statement at a time); the results in order.
 * No call at all for an empty list, so no statement with an empty `IN ()`.
 */
export async function inBatches<T, R>(items: readonly T[], fn: (chunk: T[]) => Promise<R>, size = SQL_BATCH): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(await fn(items.slice(i, i + size)));
  return results;
}
