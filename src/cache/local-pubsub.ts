import type { MessageHandler, Unsubscribe } from "@/contracts/cache";

interface Subscription {
  readonly handler: MessageHandler;
  active: boolean;
}

/**
 * Handlers by channel, delivering each message in a microtask so delivery is
 * asynchronous as it is with Redis: a handler never runs inside `publish()`,
 * so it cannot re-enter the publisher. Order per channel is publish order.
 * The memory cache uses it as its whole pub/sub; the Redis plugin uses it to
 * fan one Redis subscription out to the local handlers.
 */
export class LocalPubSub {
  private readonly channels = new Map<string, Set<Subscription>>();

  /** `onError` hears about a throwing handler; the other handlers still get the message. */
  constructor(private readonly onError: (err: unknown, channel: string) => void) {}

  publish(channel: string, message: string): void {
    const subs = this.channels.get(channel);
    if (!subs) return;
    for (const sub of subs) {
      queueMicrotask(() => {
        // Checked at delivery, not at publish: unsubscribing stops messages already queued.
        if (!sub.active) return;
        try {
          sub.handler(message);
        } catch (err) {
          this.onError(err, channel);
        }
      });
    }
  }

  subscribe(channel: string, handler: MessageHandler): Unsubscribe {
    const sub: Subscription = { handler, active: true };
    let subs = this.channels.get(channel);
    if (!subs) {
      subs = new Set();
      this.channels.set(channel, subs);
    }
    subs.add(sub);
    return () => {
      if (!sub.active) return;
      sub.active = false;
      subs.delete(sub);
      if (subs.size === 0 && this.channels.get(channel) === subs) this.channels.delete(channel);
    };
  }

  /** Whether any handler listens on `channel`. */
  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** Channels with at least one handler. */
  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  clear(): void {
    for (const subs of this.channels.values()) for (const sub of subs) sub.active = false;
    this.channels.clear();
  }
}
