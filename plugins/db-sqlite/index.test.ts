import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseConformance } from "../../test/conformance/database";
import { sqlite } from "./index";

const dir = mkdtempSync(join(tmpdir(), "aurora-sqlite-"));

databaseConformance("db-sqlite (temp file)", {
  make: () => sqlite({ path: join(dir, "conformance.sqlite") }),
  prepare: async () => {},
  dispose: async () => rmSync(dir, { recursive: true, force: true }),
});
