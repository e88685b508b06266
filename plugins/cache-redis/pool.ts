import Redis from "ioredis";

export interface PoolSettings {
  readonly url: string;
  readonly size: number;
  readonly connectionName: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface PoolEvents {
  /** A connection reported an error (a refused reconnect, a reset socket). */
  error(err: Error): void;
  /** A command connection became ready again. */
  ready(): void;
}

/** Reconnect delay: quick first retries, then once a second, forever (ioredis keeps trying). */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 1000);

/**
 * `size` command connections used round-robin plus one connection of its own
 * for pub/sub (a subscribed Redis connection cannot run other commands).
 * Every connection fails fast while Redis is away instead of queueing:
 * no offline queue, no retry of a command caught by a dropped socket, and a
 * command timeout for a Redis that accepts but never answers. ioredis
 * reconnects by itself; `pick()` only hands out connections that are ready.
 */
export class RedisPool {
  readonly commands: Redis[];
  readonly subscriber: Redis;
  private next = 0;

  constructor(settings: PoolSettings, events: PoolEvents) {
    const make = (role: string) => {
      const conn = new Redis(settings.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        autoResubscribe: false,
        commandTimeout: settings.commandTimeoutMs,
        connectTimeout: settings.connectTimeoutMs,
        connectionName: `${settings.connectionName}:${role}`,
        retryStrategy,
      });
      conn.on("error", events.error);
      return conn;
    };
    this.commands = Array.from({ length: settings.size }, (_, i) => make(`cmd${i}`));
    for (const conn of this.commands) conn.on("ready", events.ready);
    this.subscriber = make("sub");
  }

  private get all(): Redis[] {
    return [...this.commands, this.subscriber];
  }

  /** Connects every connection; rejects when any cannot connect. */
  async connect(): Promise<void> {
    await Promise.all(this.all.map((conn) => conn.connect()));
  }

  /** The next ready command connection in turn, or undefined when none is. */
  pick(): Redis | undefined {
    for (let tries = 0; tries < this.commands.length; tries++) {
      const conn = this.commands[this.next];
      this.next = (this.next + 1) % this.commands.length;
      if (conn?.status === "ready") return conn;
    }
    return undefined;
  }

  /** Quits gracefully where connected (pending replies arrive first), then stops reconnecting. */
  async close(): Promise<void> {
    await Promise.allSettled(this.all.map((conn) => (conn.status === "ready" ? conn.quit() : undefined)));
    for (const conn of this.all) conn.disconnect();
  }
}
