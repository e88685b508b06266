import { type ParseArgsConfig, parseArgs } from "node:util";
import { ConfigError } from "@/errors";
import { VERSION } from "@/version";
import { ACCOUNT_CREATE_HELP, ACCOUNT_CREATE_OPTIONS, accountCreate } from "./account-create";
import { ACCOUNT_DELETE_HELP, ACCOUNT_DELETE_OPTIONS, accountDelete } from "./account-delete";
import { ACCOUNT_EXPORT_HELP, ACCOUNT_EXPORT_OPTIONS, accountExport } from "./account-export";
import { ACCOUNT_INFO_HELP, ACCOUNT_INFO_OPTIONS, accountInfo } from "./account-info";
import { ACCOUNT_LIST_HELP, ACCOUNT_LIST_OPTIONS, accountList } from "./account-list";
import { ACCOUNT_RESET_PASSWORD_HELP, ACCOUNT_RESET_PASSWORD_OPTIONS, accountResetPassword } from "./account-reset-password";
import {
  ACCOUNT_TAKEDOWN_HELP,
  ACCOUNT_TAKEDOWN_OPTIONS,
  ACCOUNT_UNTAKEDOWN_HELP,
  ACCOUNT_UNTAKEDOWN_OPTIONS,
  accountTakedown,
  accountUntakedown,
} from "./account-takedown";
import { AdminError } from "./admin-client";
import { BACKUP_HELP, BACKUP_OPTIONS, backupCommand } from "./backup";
import { configCheck, configPrint } from "./config";
import { dev } from "./dev";
import { doctor } from "./doctor";
import { migrateRevert, migrateRun, migrateStatus } from "./migrate";
import { MOVE_HELP, MOVE_OPTIONS, move } from "./move";
import { INVITE_CREATE_HELP, INVITE_CREATE_OPTIONS, inviteCreate } from "./invite-create";
import { NGINX_HELP, NGINX_OPTIONS, nginx } from "./nginx";
import { REQUEST_CRAWL_HELP, REQUEST_CRAWL_OPTIONS, requestCrawl } from "./request-crawl";
import { RESTORE_HELP, RESTORE_OPTIONS, restoreCommand } from "./restore";
import { serve } from "./serve";
import { UsageError } from "./usage-error";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;
type Flags = Record<string, string | boolean | string[] | undefined> & { config?: string };

/**
 * A CLI command: usage line, summary, its own options beyond --config/--help,
 * how many positional arguments it takes, and its run function (resolves to the exit code).
 */
interface Command {
  usage: string;
  summary: string;
  options?: OptionSpec;
  /** Positional arguments after the command's words, `[min, max]`. @default [0, 0] */
  args?: [number, number];
  /** Longer text for `aurora <command> --help`. */
  help?: string;
  run(flags: Flags, args: string[]): Promise<number>;
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
  backup: {
    usage: "aurora backup [--out DIR|s3://BUCKET/PREFIX] [--keep N]",
    summary: "Snapshot the database and blobs into DIR or S3 (incremental blobs, manifest).",
    options: BACKUP_OPTIONS,
    help: BACKUP_HELP,
    run: (flags) => backupCommand(flags),
  },
  restore: {
    usage: "aurora restore --from DIR[/SNAPSHOT]|s3://BUCKET/PREFIX[/snapshots/SNAPSHOT] [--force]",
    summary: "Check a backup and restore it into the (empty) configured server.",
    options: RESTORE_OPTIONS,
    help: RESTORE_HELP,
    run: (flags) => restoreCommand(flags),
  },
  move: {
    usage: "aurora move --from FILE --to FILE [--resume] [--verify]",
    summary: "Copy all data between two configs' backends (server stopped).",
    options: MOVE_OPTIONS,
    help: MOVE_HELP,
    run: (flags) => move(flags),
  },
  nginx: {
    usage: "aurora nginx --node HOST:PORT ... [options]",
    summary: "Write an nginx site config for nodes behind one balancer.",
    options: NGINX_OPTIONS,
    help: NGINX_HELP,
    run: (flags) => nginx(flags),
  },
  "account list": {
    usage: "aurora account list [--limit N] [--cursor C]",
    summary: "List the server's accounts: handle, email, DID, status.",
    options: ACCOUNT_LIST_OPTIONS,
    help: ACCOUNT_LIST_HELP,
    run: (flags) => accountList(flags),
  },
  "account info": {
    usage: "aurora account info DID|HANDLE",
    summary: "Show one account as the admin API sees it.",
    options: ACCOUNT_INFO_OPTIONS,
    args: [1, 1],
    help: ACCOUNT_INFO_HELP,
    run: (flags, args) => accountInfo(flags, args),
  },
  "account create": {
    usage: "aurora account create EMAIL HANDLE",
    summary: "Create an account (generated password printed once).",
    options: ACCOUNT_CREATE_OPTIONS,
    args: [2, 2],
    help: ACCOUNT_CREATE_HELP,
    run: (flags, args) => accountCreate(flags, args),
  },
  "account takedown": {
    usage: "aurora account takedown DID [--ref R]",
    summary: "Take an account down (nothing served, no sessions).",
    options: ACCOUNT_TAKEDOWN_OPTIONS,
    args: [1, 1],
    help: ACCOUNT_TAKEDOWN_HELP,
    run: (flags, args) => accountTakedown(flags, args),
  },
  "account untakedown": {
    usage: "aurora account untakedown DID",
    summary: "Lift an account's takedown.",
    options: ACCOUNT_UNTAKEDOWN_OPTIONS,
    args: [1, 1],
    help: ACCOUNT_UNTAKEDOWN_HELP,
    run: (flags, args) => accountUntakedown(flags, args),
  },
  "account reset-password": {
    usage: "aurora account reset-password DID",
    summary: "Set a generated password and print it once.",
    options: ACCOUNT_RESET_PASSWORD_OPTIONS,
    args: [1, 1],
    help: ACCOUNT_RESET_PASSWORD_HELP,
    run: (flags, args) => accountResetPassword(flags, args),
  },
  "account delete": {
    usage: "aurora account delete DID [--yes]",
    summary: "Delete an account for good (asks unless --yes).",
    options: ACCOUNT_DELETE_OPTIONS,
    args: [1, 1],
    help: ACCOUNT_DELETE_HELP,
    run: (flags, args) => accountDelete(flags, args),
  },
  "account export": {
    usage: "aurora account export DID > repo.car",
    summary: "Write an account's repository as a CAR to stdout.",
    options: ACCOUNT_EXPORT_OPTIONS,
    args: [1, 1],
    help: ACCOUNT_EXPORT_HELP,
    run: (flags, args) => accountExport(flags, args),
  },
  "invite create": {
    usage: "aurora invite create [--uses N] [--for DID]",
    summary: "Create an invite code and print it.",
    options: INVITE_CREATE_OPTIONS,
    help: INVITE_CREATE_HELP,
    run: (flags) => inviteCreate(flags),
  },
  "request-crawl": {
    usage: "aurora request-crawl [RELAY...]",
    summary: "Ask relays (default PDS_CRAWLERS) to crawl this server.",
    options: REQUEST_CRAWL_OPTIONS,
    args: [0, Number.POSITIVE_INFINITY],
    help: REQUEST_CRAWL_HELP,
    run: (flags, args) => requestCrawl(flags, args),
  },
};

const HELP = `aurora ${VERSION}: an AT Protocol Personal Data Server

Usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`)
  .join("\n")}
  ${"aurora --version".padEnd(44)} Print the version.
  ${"aurora --help".padEnd(44)} Print this help.

Admin commands talk to a running server: --url (default the config's public
URL) and the admin password from PDS_ADMIN_PASSWORD, the config or
--password-file; \`aurora <command> --help\` for each one's options.

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
    const { name, command } = findCommand(words);
    const { values, positionals } = parseArgs({
      args: argv.slice(name.split(" ").length - (words.length === 0 ? 1 : 0)),
      strict: true,
      allowPositionals: true,
      options: { ...COMMON, ...command.options },
    });
    if (values.help) return print(`Usage: ${command.usage}\n\n${command.summary}\n${command.help ? `\n${command.help}` : ""}`);
    const [min, max] = command.args ?? [0, 0];
    if (positionals.length < min || positionals.length > max) {
      if (max === 0) throw new UsageError(`unknown command "${[name, ...positionals].join(" ")}"; run \`aurora --help\` for the list`);
      throw new UsageError(`${positionals.length < min ? "missing" : "too many"} arguments; usage: ${command.usage}`);
    }
    return await command.run(values as Flags, positionals);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`aurora: ${(err as Error).message.split(/\.\s|\n/)[0]}\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof AdminError) {
      process.stderr.write(`aurora: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** The command named by the longest run of leading words (the rest are its arguments); no words is `serve`. */
function findCommand(words: string[]): { name: string; command: Command } {
  if (words.length === 0) return { name: "serve", command: COMMANDS.serve! };
  for (let n = words.length; n > 0; n--) {
    const name = words.slice(0, n).join(" ");
    if (COMMANDS[name]) return { name, command: COMMANDS[name] };
  }
  const group = Object.keys(COMMANDS).filter((c) => c.startsWith(`${words[0]} `));
  if (words.length === 1 && group.length > 0) {
    throw new UsageError(`"${words[0]}" needs a subcommand: ${group.map((c) => c.split(" ")[1]).join(", ")}`);
  }
  throw new UsageError(`unknown command "${words.join(" ")}"; run \`aurora --help\` for the list`);
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}
