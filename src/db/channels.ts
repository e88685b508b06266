import type { NotifyHandler } from "@/contracts/db";
import type { Logger } from "@/log";

/**
 * The handlers of this process, by channel: SQLite delivers notifications
 * through it directly, PostgreSQL from its LISTEN connection.
 */
export class ChannelHub {
  readonly #handlers = new Map<string, Set<NotifyHandler>>();

  constructor(private readonly log: () => Logger | undefined) {}

  /** Register a handler; true when it is the channel's first. */
  add(channel: string, handler: NotifyHandler): boolean {
    const set = this.#handlers.get(channel);
    if (set) {
      set.add(handler);
      return false;
    }
    this.#handlers.set(channel, new Set([handler]));
    return true;
  }

  /** Unregister a handler; true when the channel has none left. */
  remove(channel: string, handler: NotifyHandler): boolean {
    const set = this.#handlers.get(channel);
    if (!set?.delete(handler)) return false;
    if (set.size > 0) return false;
    this.#handlers.delete(channel);
    return true;
  }

  channels(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Call every handler of `channel`; one handler's failure neither stops the others nor the caller. */
  deliver(channel: string, payload: string | null): void {
    for (const handler of this.#handlers.get(channel) ?? []) {
      try {
        handler(payload);
      } catch (err) {
        this.log()?.warn("notification handler failed", { channel, err });
      }
    }
  }

  clear(): void {
    this.#handlers.clear();
  }
}
