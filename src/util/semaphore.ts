/**
 * At most `permits` callers inside `run` at once; the others wait in
 * arrival order. Used where many independent tasks share a scarce backend
 * (e.g. firehose cursor replays reading the event table).
 */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // Hand the permit straight to the next waiter, or give it back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
