/**
 * The `pq` command line: `deno run -A cli.ts --workers 2` runs a server;
 * the other commands (`queue`, `status`, `tasks`, `jobs`, `revoke`,
 * `workflow`, `queues`, `workers`, `purge`, `pause`, `resume`, `dashboard`:
 * see docs/cli.md) talk to the servers through the store.
 *
 * @example
 * ```ts
 * import { main } from "@pq/queue/cli";
 * const status = await main(["help", "queue"]);
 * ```
 * @module
 */
import { configure, getConsoleSink } from "@logtape/logtape";
import { PulsarQueue } from "./src/app.ts";
import { runSubprocessChild } from "./src/run/subprocess_child.ts";
import { SettingsError } from "./src/model/errors.ts";
import { SUBPROCESS_ARG, subprocessSandbox } from "./src/run/child_command.ts";
import { resolveSettings, settingsEnv } from "./src/runtime/settings.ts";
import type { Settings } from "./src/model/settings_types.ts";
import {
  type Command,
  commandHelp,
  type CommandIO,
  COMMANDS,
  globalHelp,
  readCommandLine,
  serveHelp,
  UsageError,
  VERSION,
} from "./src/cli/commands.ts";

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
  let line;
  let resolved;
  try {
    line = readCommandLine(args, COMMANDS);
    if (line.kind === "help") {
      const topic = line.topic;
      console.log(
        topic === undefined
          ? globalHelp(COMMANDS)
          : topic === "serve"
          ? serveHelp()
          : commandHelp(topic),
      );
      return 0;
    }
    if (line.kind === "version") {
      console.log(`pq ${VERSION}`);
      return 0;
    }
    resolved = await resolveSettings({
      args,
      env: settingsEnv(),
      commandOptions: line.command?.options ?? {},
    });
  } catch (error) {
    console.error(`pq: ${error instanceof Error ? error.message : error}`);
    if (error instanceof SettingsError || error instanceof UsageError) {
      const name = error instanceof UsageError
        ? error.command
        : line?.kind === "run"
        ? line.command?.name ?? "serve"
        : undefined;
      console.error(
        name
          ? `Run 'pq help ${name}' for its usage and flags.`
          : "Run 'pq help' for the commands.",
      );
      return 2;
    }
    return 1;
  }
  const command = line.command;
  if (command) {
    return await runCommand(command, resolved.positionals.slice(1), {
      settings: resolved.settings,
      values: resolved.commandValues ?? {},
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
      console.error(
        `Usage: pq ${command.name} ${command.usage}`.trimEnd() +
          ` [options] (pq help ${command.name} explains each flag)`,
      );
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
