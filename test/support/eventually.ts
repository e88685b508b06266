export interface EventuallyOptions {
  /** Give up after this long. @default 5000 */
  timeoutMs?: number;
  /** Pause between checks. @default 10 */
  intervalMs?: number;
  /** What is awaited, for the timeout message. @default "condition" */
  what?: string;
}

/**
 * Poll `check` until it returns something truthy and return that. A check
 * that throws counts as "not yet" (a server still starting refuses
 * connections); the last error is in the timeout message.
 */
export async function eventually<T>(check: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 10, what = "condition" } = opts;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? "" : ` (last error: ${String(lastError)})`;
      throw new Error(`${what} did not happen within ${timeoutMs} ms${cause}`, { cause: lastError });
    }
    await Bun.sleep(intervalMs);
  }
}
