import { once } from "node:events";
import type { ParseArgsConfig } from "node:util";
import { ADMIN_HELP, ADMIN_OPTIONS, AdminError, adminTarget } from "./admin-client";
import { didArg } from "./admin-args";
import { UsageError } from "./usage-error";

const { json: _json, ...SERVER_OPTIONS } = ADMIN_OPTIONS;
export const ACCOUNT_EXPORT_OPTIONS: NonNullable<ParseArgsConfig["options"]> = SERVER_OPTIONS;

export const ACCOUNT_EXPORT_HELP = `Writes the repository as a CAR file to stdout (redirect it: > repo.car); the byte
count goes to stderr. With the admin password, taken-down and deactivated
repositories export too.

${ADMIN_HELP.replace(/ {2}--json[^\n]*\n/, "")}`;

/** `aurora account export <did> > repo.car`: com.atproto.sync.getRepo streamed to stdout, never to a terminal. */
export async function accountExport(flags: Record<string, unknown>, args: string[]): Promise<number> {
  const did = didArg(args[0]);
  if (process.stdout.isTTY) throw new UsageError("refusing to write a binary CAR to the terminal: redirect stdout to a file (> repo.car)");
  const { client } = await adminTarget(flags);
  const res = await client.stream("com.atproto.sync.getRepo", { did }, { admin: true });
  let bytes = 0;
  try {
    for await (const chunk of res.body!) {
      bytes += chunk.byteLength;
      if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
    }
  } catch (err) {
    throw new AdminError(`the export of ${did} broke off after ${bytes} bytes: ${(err as Error).message}; the output is incomplete`);
  }
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.stderr.write(`exported ${did}: ${bytes} bytes\n`);
  return 0;
}
