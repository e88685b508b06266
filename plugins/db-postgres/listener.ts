import postgresjs from "postgres";
import type { ChannelHub, Logger, NotifyHandler } from "@/plugin-kit";
import { type ConnectionTarget, commonOptions } from "./pool";

/** Retry delays while re-subscribing after the LISTEN connection was lost, in ms. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * LISTEN on one dedicated connection, renewed after it drops. postgres.js's
 * own `sql.listen()` re-subscribes once on close and silently gives up if
 * the database is still down, so this keeps retrying (with a capped backoff)
 * until the subscription is back, then hands every handler `null` because
 * notifications sent meanwhile are lost.
 */
export class PostgresListener {
  readonly #sql: postgresjs.Sql;
  #renewing = false;
  #closed = false;

  constructor(
    target: ConnectionTarget,
    connectTimeout: number,
    private readonly hub: ChannelHub,
    private readonly log: () => Logger | undefined,
  ) {
    const options = {
      ...commonOptions(connectTimeout, undefined, target.path),
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connection: { application_name: "aurora-listen" },
      // Not in postgres.js's type definitions, but it is the hook its own listen() uses.
      onnotify: (channel: string, payload: string) => hub.deliver(channel, payload),
      onclose: () => void this.#renew(),
    };
    this.#sql = postgresjs(target.url, options);
  }

  /** Subscribe `handler`; when the database is down the subscription is made as soon as it returns. */
  async listen(channel: string, handler: NotifyHandler): Promise<() => Promise<void>> {
    if (this.hub.add(channel, handler)) {
      try {
        await this.#sql.unsafe(`listen ${quote(channel)}`);
      } catch (err) {
        this.log()?.warn("LISTEN failed; retrying in the background", { channel, err });
        void this.#renew();
      }
    }
    return async () => {
      if (!this.hub.remove(channel, handler) || this.#closed) return;
      await this.#sql.unsafe(`unlisten ${quote(channel)}`).catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#sql.end({ timeout: 0 });
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#closed) return;
    this.#renewing = true;
    try {
      let delay = RETRY_MIN_MS;
      while (!this.#closed) {
        const channels = this.hub.channels();
        if (channels.length === 0) return;
        try {
          await this.#sql.unsafe(channels.map((c) => `listen ${quote(c)}`).join("; "));
          this.log()?.info("LISTEN renewed", { channels });
          for (const channel of channels) this.hub.deliver(channel, null);
          return;
        } catch {
          await Bun.sleep(delay);
          delay = Math.min(delay * 2, RETRY_MAX_MS);
        }
      }
    } finally {
      this.#renewing = false;
    }
  }
}

function quote(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}
