import type postgresjs from "postgres";

type Sql = postgresjs.Sql;

/**
 * A pool of postgres.js clients of one connection each, handed out here
 * rather than by postgres.js's own pool.
 *
 * postgres.js 3.4.9 keeps a pool's connections in queues (idle, busy, ...)
 * whose `shift()` leaves an empty slot behind that is only dropped once the
 * queue runs empty, and it looks a connection up with `indexOf` over that
 * array each time it moves it from one queue to another. A pool that always
 * has two connections idle, or two busy, grows the array by one slot per
 * query and scans all of it on every query: measured on a pool of 10, CPU
 * per query went from 32 to 206 µs over 640,000 queries, and on and on for
 * as long as the server runs. A client with one connection empties each of
 * its queues every time; 10 of them stayed at 21–25 µs throughout.
 *
 * `acquire`/`release` lend a client to one user at a time (a transaction, a
 * cursor); `run` shares the clients, sending a statement to the one with the
 * fewest in flight, behind which postgres.js pipelines it.
 */
export class Clients {
  readonly #all: Sql[] = [];
  /** Lent clients given back, the most recent last: reused first, so the others can reach their idle timeout. */
  readonly #idle: Sql[] = [];
  readonly #waiting: { resolve: (client: Sql) => void; reject: (err: Error) => void }[] = [];
  readonly #inFlight = new Map<Sql, number>();
  #ended = false;
  /** Clients lent and not given back. */
  #lent = 0;

  constructor(
    /** A new client of one connection (`max: 1`); it connects on its first statement. */
    private readonly open: () => Sql,
    /** Most clients, so most connections. */
    readonly size: number,
  ) {}

  /** A client for the caller alone until `release`; waits while all `size` are lent. Fails once the pool has ended. */
  acquire(): Promise<Sql> {
    if (this.#ended) return Promise.reject(ended());
    const idle = this.#idle.pop() ?? this.#grow();
    if (idle) {
      this.#lent++;
      return Promise.resolve(idle);
    }
    // Handed over by `release`, still lent.
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Give back a client from `acquire`. */
  release(client: Sql): void {
    const next = this.#waiting.shift();
    if (next) return next.resolve(client);
    this.#lent--;
    this.#idle.push(client);
  }

  /** Connections in use: the clients lent, and the shared ones with a statement in flight. */
  get inUse(): number {
    let busy = 0;
    for (const n of this.#inFlight.values()) if (n > 0) busy++;
    return this.#lent + busy;
  }

  /** `fn` on the shared client with the fewest statements in flight (a new one while fewer than `size` exist and all are busy). */
  async run<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const client = this.#leastBusy();
    this.#inFlight.set(client, (this.#inFlight.get(client) ?? 0) + 1);
    try {
      return await fn(client);
    } finally {
      this.#inFlight.set(client, this.#inFlight.get(client)! - 1);
    }
  }

  /** Open `count` connections now (each client's first statement connects it), so the first requests do not wait for them. */
  async warm(count: number): Promise<void> {
    const clients = await Promise.all(Array.from({ length: Math.min(count, this.size) }, () => this.acquire()));
    try {
      await Promise.all(clients.map((sql) => sql`select 1`));
    } finally {
      for (const client of clients.reverse()) this.release(client);
    }
  }

  /** End every client; statements still running get `timeout` seconds, callers still waiting for a client fail at once. */
  async end(timeout: number): Promise<void> {
    this.#ended = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(ended());
    await Promise.all(this.#all.map((sql) => sql.end({ timeout })));
  }

  #grow(): Sql | undefined {
    if (this.#all.length >= this.size) return undefined;
    const client = this.open();
    this.#all.push(client);
    return client;
  }

  #leastBusy(): Sql {
    let best: Sql | undefined;
    let fewest = Infinity;
    for (const client of this.#all) {
      const n = this.#inFlight.get(client) ?? 0;
      if (n < fewest) [best, fewest] = [client, n];
    }
    if (fewest === 0 && best) return best;
    return this.#grow() ?? best!;
  }
}

/** What a caller still waiting for a client gets when the pool ends: postgres.js's own code for an ended pool (classify: unavailable). */
function ended(): Error {
  return Object.assign(new Error("the PostgreSQL pool has ended"), { code: "CONNECTION_ENDED" });
}
