import { join } from "node:path";
import { ROOT, runCommand } from "./process";

let built: Promise<string> | undefined;

/**
 * The compiled `aurora` executable (`npm run build` → dist/aurora), built
 * once per test process: test files run one after another in it, so every
 * file that needs the binary shares one build instead of compiling again.
 * Copy it elsewhere before running it with node_modules out of reach.
 */
export function builtBinary(): Promise<string> {
  built ??= (async () => {
    const res = await runCommand(["npm", "run", "build"], { timeoutMs: 180_000 });
    if (res.code !== 0) throw new Error(`npm run build failed:\n${res.stderr}`);
    return join(ROOT, "dist/aurora");
  })();
  return built;
}
