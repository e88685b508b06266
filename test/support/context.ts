import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunConfig, resolveConfig } from "@/config/resolve";
import type { UserConfig } from "@/config/schema";
import type { AppContext } from "@/app-context";
import { type ContextOverrides, createContext } from "@/context";
import { createLogger, type LogLevel } from "@/log";

export interface TestContext extends AppContext {
  /** Log lines the server wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Fetch a path through the whole HTTP surface, without a socket. */
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** A server on a temp data dir with fixed test secrets; close() removes the dir. */
export async function testContext(user: UserConfig = {}, overrides: ContextOverrides = {}): Promise<TestContext> {
  const dataDir = mkdtempSync(join(tmpdir(), "aurora-test-"));
  const config = resolveConfig({
    dataDir,
    log: { level: "info" satisfies LogLevel },
    ...user,
    secrets: {
      jwtSecret: "test-jwt-secret-0123456789",
      adminPassword: "test-admin-password",
      plcRotationKeyHex: "a".repeat(64),
      ...user.secrets,
    },
  }) as RunConfig;
  const logs: Record<string, unknown>[] = [];
  const log = overrides.log ?? createLogger(config.log.level, (line) => logs.push(JSON.parse(line)));
  const ctx = await createContext(config, { ...overrides, log });
  return {
    ...ctx,
    logs,
    request: (path, init) => ctx.handle(new Request(`http://localhost${path}`, init)),
    close: async () => {
      await ctx.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
