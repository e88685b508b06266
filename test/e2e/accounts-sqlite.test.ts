import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { accountFlows } from "./accounts-flow";

const dir = mkdtempSync(join(tmpdir(), "aurora-accounts-"));

accountFlows("sqlite + memory cache", {
  db: () => sqlite({ path: join(dir, "accounts.sqlite") }),
  prepare: async () => {},
  dispose: async () => rmSync(dir, { recursive: true, force: true }),
  multiNode: false,
});
