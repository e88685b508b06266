/** A usage mistake (unknown command, bad flag value): one line on stderr, exit code 2. */
export class UsageError extends Error {}
