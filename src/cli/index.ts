import { type ParseArgsConfig, parseArgs } from "node:util";
import { ConfigError } from "@/errors";
import { VERSION } from "@/version";
import { configCheck, configPrint } from "./config";
import { dev } from "./dev";
import { doctor } from "./doctor";
import { migrateRevert, migrateRun, migrateStatus } from "./migrate";
import { NGINX_HELP, NGINX_OPTIONS, nginx } from "./nginx";
import { serve } from "./serve";
import { UsageError } from "./usage-error";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;
type Flags = Record<string, string | boolean | string[] | undefined> & { config?: string };

/** A CLI command: usage line, summary, its own options beyond --config/--help, and its run function (resolves to the exit code). */
interface Command {
  usage: string;
  summary: string;
  options?: OptionSpec;
  /** Longer text for `aurora <command> --help`. */
  help?: string;
  run(flags: Flags): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: "aurora serve [--config FILE]",
    summary: "Run the PDS (the default command).",
    run: (flags) => serve(flags.config),
  },
  dev: {
    usage: "aurora dev [--config FILE]",
    summary: "Run a local network: the PDS with an embedded PLC directory (npm start).",
    run: (flags) => dev(flags.config),
  },
  "config check": {
    usage: "aurora config check [--config FILE]",
    summary: "Validate the config and exit non-zero naming each bad field.",
    run: (flags) => configCheck(flags.config),
  },
  "config print": {
    usage: "aurora config print [--config FILE]",
    summary: "Print the resolved config as JSON, secrets redacted.",
    run: (flags) => configPrint(flags.config),
  },
  doctor: {
    usage: "aurora doctor [--config FILE]",
    summary: "Check every configured backend with a harmless round trip.",
    run: (flags) => doctor(flags.config),
  },
  "migrate run": {
    usage: "aurora migrate run [--config FILE]",
    summary: "Apply pending database migrations (one node at a time).",
    run: (flags) => migrateRun(flags.config),
  },
  "migrate revert": {
    usage: "aurora migrate revert [--config FILE]",
    summary: "Undo the newest applied database migration.",
    run: (flags) => migrateRevert(flags.config),
  },
  "migrate status": {
    usage: "aurora migrate status [--config FILE]",
    summary: "List database migrations, applied or pending.",
    run: (flags) => migrateStatus(flags.config),
  },
  nginx: {
    usage: "aurora nginx --node HOST:PORT ... [options]",
    summary: "Write an nginx site config for nodes behind one balancer.",
    options: NGINX_OPTIONS,
    help: NGINX_HELP,
    run: (flags) => nginx(flags),
  },
};

const HELP = `aurora ${VERSION}: an AT Protocol Personal Data Server

Usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.padEnd(40)} ${c.summary}`)
  .join("\n")}
  ${"aurora --version".padEnd(40)} Print the version.
  ${"aurora --help".padEnd(40)} Print this help.

--config FILE defaults to ./aurora.config.ts when present, else built-in
defaults read from the environment (see README for every variable).
`;


const COMMON: OptionSpec = {
  config: { type: "string", short: "c" },
  help: { type: "boolean", short: "h" },
};

/** Run the CLI with arguments (without the executable); resolves to the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    const firstFlag = argv.findIndex((a) => a.startsWith("-"));
    const words = firstFlag === -1 ? argv : argv.slice(0, firstFlag);
    const rest = argv.slice(words.length);
    if (words.length === 0 && (rest.includes("--version") || rest.includes("-v"))) return print(`${VERSION}\n`);
    if (words.length === 0 && (rest.includes("--help") || rest.includes("-h"))) return print(HELP);
    const name = words.length === 0 ? "serve" : words.join(" ");
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command "${name}"; run \`aurora --help\` for the list`);
    const { values } = parseArgs({ args: rest, strict: true, allowPositionals: false, options: { ...COMMON, ...command.options } });
    if (values.help) return print(`Usage: ${command.usage}\n\n${command.summary}\n${command.help ? `\n${command.help}` : ""}`);
    return await command.run(values as Flags);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`aurora: ${(err as Error).message.split(/\.\s|\n/)[0]}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`aurora: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}
