/**
 * The `pq` command line: `deno run -A cli.ts --workers 2` runs a server;
 * the other commands (`queue`, `status`, `tasks`, `jobs`, `revoke`,
 * `workflow`, `queues`, `workers`, `purge`, `pause`, `resume`, `dashboard`:
 * see docs/cli.md) talk to the servers through the store.
 *
 * @example
 * ```ts
 * import { main } from "@pq/queue/cli";
 * const status = await main(["--help"]);
 * ```
 * @module
 */
import { configure, getConsoleSink } from "@logtape/logtape";
import { PulsarQueue } from "./src/app.ts";
import { runSubprocessChild } from "./src/run/subprocess_child.ts";
import { SettingsError } from "./src/model/errors.ts";
import { SUBPROCESS_ARG, subprocessSandbox } from "./src/run/child_command.ts";
import {
  type CommandOptions,
  resolveSettings,
  settingsEnv,
} from "./src/runtime/settings.ts";
import { helpText } from "./src/model/settings_table.ts";
import type { Settings } from "./src/model/settings_types.ts";
import {
  type Command,
  type CommandIO,
  COMMANDS,
  commandsHelp,
  UsageError,
} from "./src/cli/commands.ts";

/** The flags of every command, parsed with the settings' flags. */
const COMMAND_OPTIONS: CommandOptions = Object.assign(
  {},
  ...COMMANDS.map((command) => command.options),
);

/**
 * Runs the command line with `args` and resolves with the exit status: 0 on
 * success, 2 for bad settings or usage, 1 for any other error.
 *
 * @example
 * ```ts
 * import { main } from "@pq/queue/cli";
 * Deno.exit(await main(["--workers", "2"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  // A compiled binary runs itself this way for a CPUBOUND task.
  if (args[0] === SUBPROCESS_ARG) {
    let sandbox;
    try {
      sandbox = subprocessSandbox(args.slice(1));
    } catch (error) {
      console.error(`pq: ${(error as Error).message}`);
      return 2;
    }
    return await runSubprocessChild(sandbox);
  }
  let resolved;
  let command: Command | undefined;
  let values: Record<string, unknown>;
  try {
    resolved = await resolveSettings({
      args,
      env: settingsEnv(),
      commandOptions: COMMAND_OPTIONS,
    });
    values = resolved.commandValues ?? {};
    const name = resolved.positionals[0] ?? "serve";
    command = COMMANDS.find((c) => c.name === name);
    if (!command && (name !== "serve" || resolved.positionals.length > 1)) {
      throw new UsageError(
        `Unknown command '${resolved.positionals.join(" ")}': use one of ` +
          ["serve", ...COMMANDS.map((c) => c.name)].join(", "),
      );
    }
    const own = command?.options ?? {};
    const stray = Object.keys(values).find((flag) =>
      values[flag] !== undefined && !(flag in own)
    );
    if (stray) {
      throw new UsageError(
        `Option '--${stray}' is not an option of command '${name}'`,
      );
    }
  } catch (error) {
    console.error(`pq: ${error instanceof Error ? error.message : error}`);
    if (error instanceof SettingsError || error instanceof UsageError) {
      console.error("Run with --help to see every command and setting.");
      return 2;
    }
    return 1;
  }
  if (resolved.help) {
    console.log(commandsHelp() + "\n\n" + helpText());
    return 0;
  }
  if (command) {
    return await runCommand(command, resolved.positionals.slice(1), {
      settings: resolved.settings,
      values,
    });
  }
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      {
        category: ["pq"],
        lowestLevel: resolved.settings.logLevel,
        sinks: ["console"],
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["console"],
      },
    ],
  });
  try {
    await new PulsarQueue().start({ args });
    return 0;
  } catch (error) {
    console.error(`pq: ${error instanceof Error ? error.message : error}`);
    return error instanceof SettingsError ? 2 : 1;
  }
}

/** Runs a command on a producer of the resolved settings. */
async function runCommand(
  command: Command,
  args: string[],
  { settings, values }: { settings: Settings; values: Record<string, unknown> },
): Promise<number> {
  const levels = ["trace", "debug", "info", "warning", "error", "fatal"];
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [
      {
        // Commands log warnings and worse only, on stderr: stdout is theirs.
        category: ["pq"],
        lowestLevel: levels.indexOf(settings.logLevel) < 3
          ? "warning"
          : settings.logLevel,
        sinks: ["console"],
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["console"],
      },
    ],
  });
  // A client: it never creates a store (a typo in a path is an error).
  await using api = new PulsarQueue().api({ settings, create: false });
  try {
    return await command.run({ api, settings, args, values, io: consoleIO() });
  } catch (error) {
    console.error(`pq: ${error instanceof Error ? error.message : error}`);
    if (error instanceof UsageError) {
      console.error(`Usage: pq ${command.name} ${command.usage}`.trimEnd());
      return 2;
    }
    return error instanceof SettingsError ? 2 : 1;
  }
}

/** Output on the console; the progress line is rewritten on a terminal. */
function consoleIO(): CommandIO {
  const interactive = Deno.stderr.isTerminal();
  let open = false;
  const encoder = new TextEncoder();
  return {
    interactive,
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    progress(text) {
      if (!interactive) return console.error(text);
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}`));
      open = true;
    },
    endProgress() {
      if (open) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
      open = false;
    },
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
