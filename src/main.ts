#!/usr/bin/env bun
/** The `aurora` executable (also `bun src/main.ts` in development). */
import { runCli } from "@/cli";

// Exit explicitly: after a graceful shutdown, signal listeners and metric
// collectors must not keep the process alive.
process.exit(await runCli(process.argv.slice(2)));
