import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MIGRATIONS } from "@/db/migrations";

const MAIN = resolve(import.meta.dir, "../main.ts");
const dir = mkdtempSync(join(tmpdir(), "aurora-migrate-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, db: string): string {
  const file = join(dir, `${name}.config.ts`);
  writeFileSync(file, `import { defineConfig, sqlite, postgres } from "aurora";
export default defineConfig({ dataDir: ${JSON.stringify(dir)}, db: ${db} });
`);
  return file;
}

/** Run the real CLI in a child process, as an operator would. */
async function aurora(...args: string[]) {
  const child = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", cwd: dir });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

const names = MIGRATIONS.map(([name]) => name);
const newest = names.at(-1)!;

describe("aurora migrate", () => {
  const sqliteConfig = config("sqlite", `sqlite({ path: "cli.sqlite" })`);

  test("status, run, run again, revert, status: each reports what it did", async () => {
    let r = await aurora("migrate", "status", "--config", sqliteConfig);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${names.map((n) => `pending  ${n}`).join("\n")}\n0 applied, ${names.length} pending\n`);

    r = await aurora("migrate", "run", "--config", sqliteConfig);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(names.map((n) => `applied  ${n}\n`).join(""));

    r = await aurora("migrate", "run", "--config", sqliteConfig);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nothing to apply");

    r = await aurora("migrate", "status", "--config", sqliteConfig);
    expect(r.stdout).toMatch(new RegExp(`^applied  ${newest}  \\d{4}-\\d\\d-\\d\\dT`, "m"));
    expect(r.stdout).toEndWith(`${names.length} applied, 0 pending\n`);

    r = await aurora("migrate", "revert", "--config", sqliteConfig);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`reverted ${newest}\n`);
    r = await aurora("migrate", "status", "--config", sqliteConfig);
    expect(r.stdout).toContain(`pending  ${newest}`);
  }, 20_000);

  test("an unreachable database: one line naming the plugin on stderr, exit 1", async () => {
    const file = config("down", `postgres({ url: "postgresql://postgres@127.0.0.1:1/aurora", connectTimeout: 2 })`);
    const r = await aurora("migrate", "status", "--config", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("[aurora] [db-postgres] cannot connect");
    expect(r.stdout).toBe("");
  }, 20_000);
});
