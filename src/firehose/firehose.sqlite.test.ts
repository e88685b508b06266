import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { firehoseSuite } from "@test/support/firehose-suite";

const dir = mkdtempSync(join(tmpdir(), "aurora-firehose-"));

firehoseSuite("SQLite", {
  // One file for every node of the suite (they run one after another), so restarts find their events.
  make: () => sqlite({ path: join(dir, "aurora.sqlite") }),
  prepare: async () => {},
  dispose: async () => rmSync(dir, { recursive: true, force: true }),
});
