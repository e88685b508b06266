import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqlite } from "@plugins/db-sqlite";
import { emailFlows } from "./email-flow";

const dir = mkdtempSync(join(tmpdir(), "aurora-email-"));

emailFlows("sqlite", {
  db: () => sqlite({ path: join(dir, "email.sqlite") }),
  prepare: async () => {},
  dispose: async () => rmSync(dir, { recursive: true, force: true }),
  multiNode: false,
});
