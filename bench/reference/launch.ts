/**
 * Run by the Node 22 from the bench cache (type stripping, no build step):
 * start the reference PDS installed there, configured by its own PDS_*
 * environment, and stop it cleanly on SIGTERM. Prints `ready` once listening.
 * Usage: node launch.ts <install dir>
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bindLoopbackOnly } from "../lib/loopback.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: node launch.ts <reference install dir>");
bindLoopbackOnly();
const pds = await import(pathToFileURL(join(dir, "node_modules/@atproto/pds/dist/index.js")).href);
const env = pds.readEnv();
const server = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env));
await server.start();
console.log("ready");
process.once("SIGTERM", async () => {
  await server.destroy();
  process.exit(0);
});
