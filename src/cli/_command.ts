/**
 * What every command of the `pq` command line gets, and its usage error.
 * @module
 */
import type { Producer } from "../producer/producer.ts";
import type { Settings } from "../model/settings_types.ts";
import type { Task } from "../model/task.ts";

/** Where a command writes: stdout, stderr, and whether stderr is a terminal. */
export interface CommandIO {
  /** Writes a line (or lines) to stdout. */
  out(text: string): void;
  /** Writes a line (or lines) to stderr. */
  err(text: string): void;
  /** Rewrites the progress line on stderr (a terminal) or writes it (else). */
  progress(text: string): void;
  /** Ends the progress line. */
  endProgress(): void;
  /** True when stderr is a terminal (the progress line is rewritten). */
  interactive: boolean;
}

/** What a command runs with. */
export interface CommandContext {
  /** A producer on the application's store (started on first use). */
  api: Producer;
  /** The resolved settings. */
  settings: Settings;
  /** The arguments after the command name. */
  args: string[];
  /** The values of the command's own flags (`json`, `wait`...). */
  values: Record<string, unknown>;
  /** Output. */
  io: CommandIO;
}

/** A flag of a command: how it parses and how its help reads. */
export interface CommandFlag {
  /** A boolean flag takes no value; a string flag takes one. */
  type: "string" | "boolean";
  /** A flag that may be given more than once (its values are a list). */
  multiple?: boolean;
  /** How its value reads in help (`<seconds>`, `<name>`...). */
  metavar?: string;
  /** What it does, for `pq help <command>`. */
  help: string;
}

/** A command of the command line. */
export interface Command {
  /** Its name, the first argument. */
  name: string;
  /** Its arguments as usage shows them (its flags are listed apart). */
  usage: string;
  /** What it does, one line. */
  help: string;
  /** More about it, for `pq help <command>` (paragraphs). */
  details?: string;
  /** Its own flags, by name without `--` (most commands take `--json`). */
  options: Record<string, CommandFlag>;
  /** Command lines that show it in use, for `pq help <command>`. */
  examples: readonly string[];
  /** Runs it; resolves with the exit status. */
  run(context: CommandContext): Promise<number>;
}

/** `--json`: print JSON for scripts. */
export const JSON_FLAG: CommandFlag = {
  type: "boolean",
  help: "Print JSON for scripts instead of text.",
};

/** The flags of a command that has only `--json`. */
export const JSON_OPTION: Record<string, CommandFlag> = { json: JSON_FLAG };

/**
 * Bad usage of a command (exit status 2): a missing or malformed argument.
 *
 * @example
 * ```ts
 * throw new UsageError("Command 'status' needs a task id: pq status <id>");
 * ```
 */
export class UsageError extends Error {
  /** The command it is about (its help is the place to look), if known. */
  readonly command?: string;
  /** Makes the error with what was wrong and how to do it right. */
  constructor(message: string, options?: ErrorOptions & { command?: string }) {
    super(message, options);
    this.name = "UsageError";
    if (options?.command) this.command = options.command;
  }
}

/** Checks the number of arguments of a command. */
export function checkArgs(
  command: Pick<Command, "name" | "usage">,
  args: string[],
  min: number,
  max: number,
): void {
  if (args.length >= min && args.length <= max) return;
  const what = args.length < min ? "needs" : "takes";
  const count = args.length < min ? min : max;
  throw new UsageError(
    `Command '${command.name}' ${what} ${
      max === Infinity && args.length < min ? "at least " : ""
    }${count} argument${count === 1 ? "" : "s"}: got ${
      args.length ? args.map((a) => `'${a}'`).join(" ") : "none"
    }`,
  );
}

/** Prints a value as JSON (for `--json`). */
export function printJson(io: CommandIO, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** A task as `--json` prints it: its record and its status name. */
export function taskJson(task: Task): Record<string, unknown> {
  return { ...task.toJSON(), statusString: task.statusString };
}

/** A Unix time in seconds as ISO text. */
export function isoTime(seconds: number | null | undefined): string {
  return typeof seconds === "number"
    ? new Date(seconds * 1000).toISOString()
    : "-";
}

/** A value as one line of text (JSON, strings as they are). */
export function inline(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? "null";
}

/** Aligns rows in columns, two spaces apart. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]))
      .join("  ").trimEnd()
  ).join("\n");
}
