/**
 * Which command a `pq` command line asks for, and whether each of its flags
 * is one that command takes: before any value is read, so that the first
 * error is about the name the user typed.
 *
 * Invariants: a command takes its own flags, `--help`, `--version` and the
 * settings flags of {@linkcode CLIENT_SETTINGS}; `serve` takes every
 * settings flag. Any other flag is a {@linkcode UsageError} naming it and,
 * when one is close, the flag meant: a server's flag given to another
 * command says it is the server's, a flag of another command says whose it
 * is. A command name that is not one is named alone (not glued to its
 * arguments), with the close one.
 * @module
 */
import { parseArgs } from "node:util";
import { didYouMean } from "../model/_did_you_mean.ts";
import { SETTINGS } from "../model/settings_table.ts";
import { cliOptions, joinNegativeValues } from "../runtime/settings.ts";
import { type Command, UsageError } from "./_command.ts";
import { CLIENT_SETTINGS } from "./help.ts";

/** What a command line asks for. */
export type CommandLine =
  /** Help: of a command (`topic`), of `serve`, or of pq (no topic). */
  | { kind: "help"; topic?: Command | "serve" }
  /** pq's version. */
  | { kind: "version" }
  /** Run a command, or serve when `command` is undefined. */
  | { kind: "run"; command?: Command };

/** The name of a command, `serve` included, for messages. */
function commandName(command: Command | undefined): string {
  return command?.name ?? "serve";
}

/**
 * Finds the command of `args` and checks that each flag is one it takes.
 *
 * @throws {UsageError} for an unknown command, an unknown flag, a server's
 * flag given to a client command, or a flag of another command.
 *
 * @example
 * ```ts
 * import { COMMANDS } from "./commands.ts";
 * import { readCommandLine } from "./command_line.ts";
 * readCommandLine(["queue", "addition", "a=1", "--wait"], COMMANDS);
 * // { kind: "run", command: queueCommand }
 * ```
 */
export function readCommandLine(
  args: readonly string[],
  commands: readonly Command[],
): CommandLine {
  const everyFlag = Object.assign(
    {},
    ...commands.map((command) => command.options),
  );
  const options = cliOptions(everyFlag);
  // Lenient: only to find the command's name and the flags given.
  const { positionals, tokens } = parseArgs({
    args: joinNegativeValues(args, options),
    options,
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  const given = tokens.flatMap((token) =>
    token.kind === "option" ? [token] : []
  );
  const find = (name: string): Command | "serve" => {
    const command = commands.find((c) => c.name === name);
    if (command || name === "serve") return command ?? "serve";
    const names = ["serve", ...commands.map((c) => c.name), "help", "version"];
    throw new UsageError(
      `Unknown command '${name}'${
        didYouMean(name, names) || `: the commands are ${names.join(", ")}`
      }`,
    );
  };
  const [name, ...rest] = positionals;
  // `pq --wokers 2`: the value of an unknown flag reads as the command.
  const first = tokens.find((token) => token.kind === "positional");
  for (const token of given) {
    if (first && token.index > first.index) break;
    const known = token.name in options ||
      (token.name.startsWith("no-") && token.name.slice(3) in options);
    if (!known) checkFlag(token.rawName, token.name, undefined, commands);
  }
  if (name === "help") {
    if (rest.length > 1) {
      throw new UsageError(
        `Command 'help' takes 1 argument at most: got ${
          rest.map((a) => `'${a}'`).join(" ")
        }`,
      );
    }
    return rest.length ? { kind: "help", topic: find(rest[0]) } : {
      kind: "help",
    };
  }
  if (name === "version") return { kind: "version" };
  const found = name === undefined ? "serve" : find(name);
  const command = found === "serve" ? undefined : found;
  if (found === "serve" && name !== undefined && rest.length) {
    throw new UsageError(
      `Command 'serve' takes no arguments: got ${
        rest.map((a) => `'${a}'`).join(" ")
      }`,
      { command: "serve" },
    );
  }
  // Help wins over a flag that is wrong: it says what the right ones are.
  if (given.some((token) => token.name === "help" || token.name === "h")) {
    return { kind: "help", topic: name === undefined ? undefined : found };
  }
  if (given.some((token) => token.name === "version" || token.name === "V")) {
    return { kind: "version" };
  }
  for (const token of given) {
    checkFlag(token.rawName, token.name, command, commands);
  }
  return { kind: "run", command };
}

/** The settings flags, long and short, by the name `parseArgs` gives. */
const SETTING_BY_NAME = new Map(
  SETTINGS.flatMap((s) => [
    [s.flag, s] as const,
    ...(s.short ? [[s.short, s] as const] : []),
  ]),
);

/** Throws unless `command` (undefined: serve) takes the flag. */
function checkFlag(
  rawName: string,
  tokenName: string,
  command: Command | undefined,
  commands: readonly Command[],
): void {
  const where = commandName(command);
  const own = command?.options ?? {};
  const isBoolean = (name: string) =>
    own[name]?.type === "boolean" ||
    SETTING_BY_NAME.get(name)?.kind.type === "boolean";
  // --no-<flag> is the negative of a boolean flag.
  const name = tokenName.startsWith("no-") && isBoolean(tokenName.slice(3))
    ? tokenName.slice(3)
    : tokenName;
  const setting = SETTING_BY_NAME.get(name);
  if (name in own) return;
  if (setting && (command === undefined || !setting.serverOnly)) return;
  const flag = rawName.startsWith("--") ? `--${name}` : rawName;
  if (setting) {
    throw new UsageError(
      `${flag} is a flag of the server (pq serve), not of '${where}': ` +
        `a command takes only its own flags and those that find the store ` +
        `and the jobs`,
      { command: where },
    );
  }
  const takes = [
    ...Object.keys(own),
    ...(command ? CLIENT_SETTINGS : SETTINGS).map((s) => s.flag),
    "help",
    "version",
  ].map((f) => `--${f}`);
  const owners = commands.filter((c) => name in c.options).map((c) => c.name);
  if (owners.length) {
    throw new UsageError(
      `Option '${flag}' is not an option of command '${where}' (it is one of ${
        owners.map((o) => `pq ${o}`).join(", ")
      })${didYouMean(flag, takes)}`,
      { command: where },
    );
  }
  // `pq queue hello --who=Ada`: a job's argument written as a flag.
  const close = didYouMean(flag, takes);
  const kwarg = !close && command?.usage.includes("key=value") &&
      flag.startsWith("--")
    ? `; a job's argument is written key=value, as in ${name}=<value>`
    : "";
  throw new UsageError(
    `Unknown option '${flag}' of command '${where}'${close}${kwarg}`,
    { command: where },
  );
}
