import { expect, test } from "bun:test";
import { fromEnv } from "@/config/env";
import { resolveConfig } from "@/config/resolve";
import { ConfigError } from "@/errors";

test("firehose options default to a 72 h window, 500 buffered events, 30 s pings, 1 s polling and the connection caps", () => {
  expect(resolveConfig({}).firehose).toEqual({
    backfillHours: 72,
    maxBufferedEvents: 500,
    keepaliveMs: 30_000,
    pollIntervalMs: 1000,
    maxSubscribers: 5000,
    maxSubscribersPerIp: 50,
    maxConcurrentBackfills: 4,
  });
});

test("the environment sets them; the backfill window comes in ms as in the reference PDS", () => {
  const user = fromEnv({
    PDS_REPO_BACKFILL_LIMIT_MS: "86400000",
    PDS_FIREHOSE_MAX_BUFFERED_EVENTS: "2000",
    PDS_FIREHOSE_KEEPALIVE_MS: "15000",
    PDS_SEQUENCER_POLL_MS: "250",
    PDS_FIREHOSE_MAX_SUBSCRIBERS: "900",
    PDS_FIREHOSE_MAX_SUBSCRIBERS_PER_IP: "3",
    PDS_FIREHOSE_MAX_BACKFILLS: "2",
  });
  expect(resolveConfig(user).firehose).toEqual({
    backfillHours: 24,
    maxBufferedEvents: 2000,
    keepaliveMs: 15_000,
    pollIntervalMs: 250,
    maxSubscribers: 900,
    maxSubscribersPerIp: 3,
    maxConcurrentBackfills: 2,
  });
});

test.each([
  [{ firehose: { backfillHours: 0 } }, "firehose.backfillHours"],
  [{ firehose: { maxBufferedEvents: 0 } }, "firehose.maxBufferedEvents"],
  [{ firehose: { pollMs: 5 } }, "firehose.pollMs: Unexpected property"],
])("a bad firehose option names its field: %j", (input, message) => {
  expect(() => resolveConfig(input)).toThrow(ConfigError);
  expect(() => resolveConfig(input)).toThrow(message);
});
