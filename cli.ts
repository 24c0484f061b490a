/**
 * The `pq` command line: `deno run -A cli.ts --workers 2` runs a server.
 *
 * @example
 * ```ts
 * import { main } from "@pq/queue/cli";
 * const status = await main(["--help"]);
 * ```
 * @module
 */
import { configure, getConsoleSink } from "@logtape/logtape";
import { PulsarQueue, settingsEnv } from "./src/app.ts";
import { SettingsError } from "./src/errors.ts";
import { helpText, resolveSettings } from "./src/settings.ts";

const COMMANDS = ["serve"];

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
  let resolved;
  try {
    resolved = await resolveSettings({ args, env: settingsEnv() });
    const command = resolved.positionals[0] ?? "serve";
    if (!COMMANDS.includes(command) || resolved.positionals.length > 1) {
      throw new SettingsError(
        "command",
        resolved.positionals.join(" "),
        "one of: " + COMMANDS.join(", "),
      );
    }
  } catch (error) {
    console.error(`pq: ${error instanceof Error ? error.message : error}`);
    if (error instanceof SettingsError) {
      console.error("Run with --help to see every setting.");
      return 2;
    }
    return 1;
  }
  if (resolved.help) {
    console.log(helpText());
    return 0;
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

if (import.meta.main) Deno.exit(await main(Deno.args));
