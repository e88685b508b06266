import type Redis from "ioredis";
import { ReplyError } from "ioredis";
import { LocalPubSub, type MessageHandler, type Unsubscribe } from "@/plugin-kit";

export interface SubscriptionEvents {
  /** SUBSCRIBE could not reach Redis; the channel is subscribed again on reconnect. */
  degraded(err: Error): void;
  /** A handler threw. */
  handlerFailed(err: unknown, channel: string): void;
}

/**
 * One Redis subscription per channel on the pub/sub connection, fanned out
 * to any number of local handlers. The handler table is ours, not ioredis's
 * (autoResubscribe is off): on every "ready" we SUBSCRIBE to all its
 * channels, which covers a reconnect after an outage and a subscribe made
 * while Redis was down alike.
 */
export class Subscriptions {
  private readonly handlers: LocalPubSub;
  /** SUBSCRIBE in flight per channel: a second subscriber waits for it too. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly conn: Redis,
    private readonly prefix: string,
    private readonly events: SubscriptionEvents,
  ) {
    this.handlers = new LocalPubSub(events.handlerFailed);
    conn.on("message", (channel: string, message: string) => {
      if (channel.startsWith(prefix)) this.handlers.publish(channel.slice(prefix.length), message);
    });
    conn.on("ready", () => {
      const channels = this.handlers.channelNames();
      if (channels.length === 0) return;
      conn.subscribe(...channels.map((c) => prefix + c)).catch((err: Error) => events.degraded(err));
    });
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Unsubscribe> {
    const first = !this.handlers.has(channel);
    const remove = this.handlers.subscribe(channel, handler);
    if (first) {
      const subscribed: Promise<void> = this.redisSubscribe(channel).finally(() => {
        if (this.pending.get(channel) === subscribed) this.pending.delete(channel);
      });
      this.pending.set(channel, subscribed);
    }
    try {
      await this.pending.get(channel);
    } catch (err) {
      remove();
      throw err;
    }
    return () => {
      remove();
      if (this.handlers.has(channel) || this.conn.status !== "ready") return;
      // Fire and forget: local delivery has already stopped; a lost UNSUBSCRIBE only costs ignored messages.
      this.conn.unsubscribe(this.prefix + channel).catch(() => {});
    };
  }

  clear(): void {
    this.handlers.clear();
    this.pending.clear();
  }

  /** Resolves once Redis confirmed, or once it proved unreachable; rejects only when Redis refused (ACL). */
  private async redisSubscribe(channel: string): Promise<void> {
    try {
      if (this.conn.status !== "ready") throw new Error(`pub/sub connection is ${this.conn.status}`);
      await this.conn.subscribe(this.prefix + channel);
    } catch (err) {
      if (err instanceof ReplyError) throw err;
      this.events.degraded(err as Error);
    }
  }
}
