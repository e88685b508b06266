/**
 * A move or backup that cannot go ahead, for a reason the operator can fix
 * (wrong config, schema versions apart, a target that already holds data).
 * The CLI prints the message alone and exits 1; anything else is a bug or a
 * backend failure and keeps its stack.
 */
export class MoveError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MoveError";
  }
}

/** The copy stopped because it was asked to (SIGINT) between two pages; what is done stays done. */
export class MoveInterrupted extends MoveError {
  constructor() {
    super("interrupted: what was copied stays; run the same command with --resume to continue");
    this.name = "MoveInterrupted";
  }
}

/** Throw MoveInterrupted once `signal` has fired: called between pages, never inside a write. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MoveInterrupted();
}
