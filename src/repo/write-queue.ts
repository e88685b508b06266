import { RateLimitExceededError } from "@/errors";

/**
 * Writers of one repository queue here, in this process, before they take a
 * database connection: otherwise N concurrent writes to one repository hold N
 * pool connections while all but one wait for its advisory lock, and one
 * account can starve every other. One writer per repository per node runs;
 * at most `maxWaiting` more wait in FIFO order, and further writers are
 * refused at once with 429 (a client that floods its own repository is the
 * one that waits). The database's repo lock still serialises nodes.
 */
export class RepoWriteQueue {
  /** A repository is present while one of its writers runs; the array holds the waiting ones. */
  private readonly repos = new Map<string, (() => void)[]>();

  constructor(private readonly maxWaiting: number) {}

  async run<T>(did: string, fn: () => Promise<T>): Promise<T> {
    let waiting = this.repos.get(did);
    if (!waiting) {
      waiting = [];
      this.repos.set(did, waiting);
    } else {
      if (waiting.length >= this.maxWaiting) {
        throw new RateLimitExceededError("Too many concurrent writes to this repository, try again shortly");
      }
      await new Promise<void>((resolve) => waiting!.push(resolve));
    }
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else this.repos.delete(did);
    }
  }

  /** Writers of `did` waiting behind the running one (for tests and metrics). */
  waiting(did: string): number {
    return this.repos.get(did)?.length ?? 0;
  }
}
