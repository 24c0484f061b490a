/**
 * The help of the `pq` command line: `pq help` (the commands and what every
 * command takes), `pq help <command>` (that command's usage, its own flags,
 * the settings flags it takes, an example) and `pq help serve` (the server's
 * every setting).
 *
 * Invariants: every text is made from the commands' own definitions and the
 * settings table, so help cannot list a flag the parser refuses nor miss one
 * it takes; lines are wrapped to 80 columns.
 * @module
 */
import {
  flagHelpLines,
  helpText,
  settingHelpLines,
  SETTINGS,
  type SettingSpec,
  wrap,
} from "../model/settings_table.ts";
import type { Command, CommandFlag } from "./_command.ts";

/** The settings every command takes: those not only a server's. */
export const CLIENT_SETTINGS: readonly SettingSpec[] = SETTINGS.filter((s) =>
  !s.serverOnly
);

/** How the exit statuses read in help. */
const EXIT_STATUS =
  "Exit status: 0 done, 1 failed (an unknown job or id, a task that did not succeed with --wait, a store out of reach), 2 bad usage or settings.";

/** A command's flag as help shows it: `    --delay <seconds>`. */
function flagText(name: string, flag: CommandFlag): string {
  const value = flag.type === "boolean" ? "" : ` ${flag.metavar ?? "<value>"}`;
  return `    --${name}${value}`;
}

/** The lines of `-h, --help` and `-V, --version`. */
function helpFlagLines(): string[] {
  return [
    ...flagHelpLines(
      "-h, --help",
      "Show help: pq help <command> (or pq <command> --help) for a command's.",
    ),
    ...flagHelpLines("-V, --version", "Print pq's version."),
  ];
}

/**
 * `pq help`: the commands, one line each, the flags every command takes and
 * where to read more.
 *
 * @example
 * ```ts
 * import { COMMANDS } from "./commands.ts";
 * import { globalHelp } from "./help.ts";
 * console.log(globalHelp(COMMANDS));
 * ```
 */
export function globalHelp(commands: readonly Command[]): string {
  const rows: Array<[string, string]> = [
    ["serve", "Run a server (the default command): pq --workers 2"],
    ...commands.map((c): [string, string] => [c.name, c.help]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [
    "pq: a distributed task queue. Run a server, queue tasks, watch them.",
    "",
    "Usage: pq [command] [arguments] [options]",
    "",
    "Commands:",
    ...rows.flatMap(([name, help]) => {
      const [first, ...rest] = wrap(help, " ".repeat(width + 2));
      return [`  ${name.padEnd(width)}${first.trimStart()}`, ...rest];
    }),
    "",
    "Options of every command (they find the store and the jobs):",
    ...wrap(
      CLIENT_SETTINGS.map((s) =>
        `--${s.flag}${s.short ? ` (-${s.short})` : ""}`
      )
        .join(", ") + "; --help (-h), --version (-V).",
      "  ",
    ),
    "",
    ...wrap(
      "Run 'pq help <command>' for a command's flags and an example, " +
        "'pq help serve' for the server's settings (--workers, " +
        "--concurrent-tasks...). Settings also come from PQ_* variables " +
        "and ./pq.config.ts.",
      "",
    ),
    ...wrap(EXIT_STATUS, ""),
  ].join("\n");
}

/**
 * `pq help <command>`: its usage, what it does, its own flags, the settings
 * flags it takes and examples.
 *
 * @example
 * ```ts
 * import { queueCommand } from "./queue.ts";
 * import { commandHelp } from "./help.ts";
 * console.log(commandHelp(queueCommand));
 * ```
 */
export function commandHelp(command: Command): string {
  const own = Object.entries(command.options);
  return [
    `Usage: pq ${command.name} ${command.usage}`.trimEnd() + " [options]",
    "",
    ...wrap(command.help, ""),
    ...(command.details ? ["", ...wrap(command.details, "")] : []),
    "",
    ...(own.length
      ? [
        "Options:",
        ...own.flatMap(([name, flag]) =>
          flagHelpLines(flagText(name, flag), flag.help)
        ),
        "",
      ]
      : []),
    "Options of every command:",
    ...CLIENT_SETTINGS.flatMap(settingHelpLines),
    ...helpFlagLines(),
    "",
    command.examples.length > 1 ? "Examples:" : "Example:",
    ...command.examples.map((line) => `  ${line}`),
    "",
    ...wrap(EXIT_STATUS, ""),
  ].join("\n");
}

/**
 * `pq help serve`: the server's usage and every setting, with an example.
 *
 * @example
 * ```ts
 * import { serveHelp } from "./help.ts";
 * console.log(serveHelp());
 * ```
 */
export function serveHelp(): string {
  return [
    helpText(),
    ...flagHelpLines("-V, --version", "Print pq's version."),
    "",
    "Examples:",
    "  pq --workers 2 --task-paths ./jobs/",
    "  pq serve --data-store redis://127.0.0.1:6379/0 --schedule-periodic",
  ].join("\n");
}
