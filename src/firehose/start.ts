import type { Registry } from "prom-client";
import type { RunConfig } from "@/config/resolve";
import type { CachePlugin } from "@/contracts/cache";
import type { DatabasePlugin } from "@/contracts/db";
import { createCrawlerNotifier } from "@/crawlers/notifier";
import type { Logger } from "@/log";
import { createSeqReader } from "@/sequencer/reader";
import { type Firehose, createFirehose } from "./firehose";

/** Build this node's firehose (tail, subscribers, crawler notification) and start following the event table. */
export async function startFirehose(
  config: RunConfig,
  db: DatabasePlugin,
  cache: CachePlugin,
  log: Logger,
  registry: Registry,
): Promise<Firehose> {
  const crawlers = createCrawlerNotifier({
    relays: config.crawlers,
    hostname: config.service.hostname,
    cache,
    log: log.child({ component: "crawlers" }),
    registry,
  });
  const firehose = createFirehose({
    db,
    reader: createSeqReader(db),
    options: config.firehose,
    log: log.child({ component: "firehose" }),
    registry,
    crawlers,
  });
  await firehose.start();
  return firehose;
}
