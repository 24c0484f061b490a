/**
 * Reading the settings: from the command line, the `PQ_*` environment
 * variables and the config module, each checked by the settings table
 * (`model/settings_table.ts`).
 *
 * Precedence, lowest to highest: defaults < config module < constructor
 * options < `PQ_*` environment variables < command-line flags.
 * @module
 */
import { parseArgs } from "node:util";
import { didYouMean } from "../model/_did_you_mean.ts";
import { appFileUrl, exists } from "./_paths.ts";
import { SettingsError } from "../model/errors.ts";
import type { Settings } from "../model/settings_types.ts";
import {
  BY_FLAG,
  checkValue,
  defaultSettings,
  SETTINGS,
  validateSettings,
} from "../model/settings_table.ts";

/** Options of a command (`--json`, `--wait`...) besides the settings. */
export type CommandOptions = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

/**
 * The `parseArgs` options of the table, `--help`, `--version` and a
 * command's (only what `parseArgs` reads of them: a command's flags may
 * carry their help too).
 */
export function cliOptions(
  commandOptions: CommandOptions = {},
): CommandOptions {
  const options: CommandOptions = {};
  for (
    const [name, { type, short, multiple }] of Object.entries(commandOptions)
  ) {
    options[name] = {
      type,
      ...(short ? { short } : {}),
      ...(multiple ? { multiple } : {}),
    };
  }
  options.help = { type: "boolean", short: "h" };
  options.version = { type: "boolean", short: "V" };
  for (const s of SETTINGS) {
    options[s.flag] = {
      type: s.kind.type === "boolean" ? "boolean" : "string",
      ...(s.short ? { short: s.short } : {}),
      ...(s.kind.type === "list" ? { multiple: true } : {}),
    };
  }
  return options;
}

/** Turns an error of `parseArgs` into a {@linkcode SettingsError}. */
function cliError(error: unknown, args: string[]): SettingsError {
  const text = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  const source = "command line";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const flag = text.match(/'([^']+)'/)?.[1] ?? "?";
    const flags = ["--help", ...BY_FLAG.keys()].filter((f) =>
      f.startsWith("--")
    );
    const name = flag.replace(/=.*$/, "");
    return new SettingsError(flag, flag, "a known option", {
      source,
      cause: error,
      message: `Unknown option '${name}'${didYouMean(name, flags)}`,
    });
  }
  const flag = text.match(/--[a-z][a-z-]*/)?.[0];
  const s = flag ? BY_FLAG.get(flag) : undefined;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag && s) {
    const about = `Option '${flag}' (setting '${s.name}')`;
    let message = `${about} needs a value, as in ${flag} ${
      s.metavar ?? "<value>"
    }`;
    if (text.includes("ambiguous")) {
      const at = args.findIndex((arg) => arg === flag || arg === `-${s.short}`);
      const next = at >= 0 ? args[at + 1] : undefined;
      message += next === undefined
        ? ""
        : `; for a value that starts with '-', write ${flag}=${next}`;
    } else if (text.includes("does not take an argument")) {
      message = `${about} takes no value: write ${flag} or --no-${s.flag}`;
    }
    return new SettingsError(s.name, args.join(" "), "", {
      source: `${source} ${flag}`,
      cause: error,
      message,
    });
  }
  return new SettingsError(flag ?? "?", args.join(" "), "", {
    source,
    cause: error,
    message: text,
  });
}

/** A negative number, as the value of a flag (`--priority -3`). */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * Joins a flag that takes a value with a following negative number
 * (`--priority -3` becomes `--priority=-3`, `-w -1` becomes `--workers=-1`):
 * `parseArgs` takes a value starting with '-' for a flag and refuses it as
 * ambiguous, but no flag of pq is a number.
 */
export function joinNegativeValues(
  args: readonly string[],
  options: CommandOptions,
): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      joined.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const name = /^--[^=]+$/.test(arg)
      ? arg.slice(2)
      : /^-[^-]$/.test(arg)
      ? Object.keys(options).find((key) => options[key].short === arg[1])
      : undefined;
    if (
      name !== undefined && options[name]?.type === "string" &&
      next !== undefined && NEGATIVE_NUMBER.test(next)
    ) {
      joined.push(`--${name}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

/**
 * Parses command-line flags: `--workers 2`, `-w 2`, `--workers=2`,
 * `--schedule-periodic` (or `--no-schedule-periodic`), lists as repeated
 * flags and/or comma-separated values (`--task-paths a,b --task-paths c`),
 * a negative number as a value (`--priority -3`), `--help`/`-h` and
 * `--version`/`-V`. Other arguments are returned as `positionals`.
 *
 * @throws {SettingsError} for an unknown option, an option without its
 * value, or a bad value (naming the setting, the flag and the value).
 *
 * @example
 * ```ts
 *
 * parseCliArgs(["--workers", "2", "--task-paths", "a,b"]).settings;
 * // { workers: 2, taskPaths: ["a", "b"] }
 * ```
 */
export function parseCliArgs(
  args: string[],
  commandOptions?: CommandOptions,
): {
  settings: Partial<Settings>;
  help: boolean;
  /** True for `--version` or `-V`. */
  version: boolean;
  positionals: string[];
  /** The values of `commandOptions` (only when some were given). */
  commandValues?: Record<string, unknown>;
} {
  let parsed;
  const options = cliOptions(commandOptions);
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, options),
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
    });
  } catch (error) {
    throw cliError(error, args);
  }
  const settings: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const value = parsed.values[s.flag];
    if (value === undefined) continue;
    const source = `command line --${s.flag}`;
    settings[s.name] = s.kind.type === "list"
      ? (value as string[]).flatMap((item) =>
        checkValue(s, item, source, true) as string[]
      )
      : checkValue(s, value, source, true);
  }
  return {
    settings: settings as Partial<Settings>,
    help: parsed.values.help === true,
    version: parsed.values.version === true,
    positionals: parsed.positionals,
    ...(commandOptions && {
      commandValues: Object.fromEntries(
        Object.keys(commandOptions).map((name) => [name, parsed.values[name]]),
      ),
    }),
  };
}

/** The `PQ_*` variables of the settings table that this process may read. */
export function settingsEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const spec of SETTINGS) {
    try {
      env[spec.env] = Deno.env.get(spec.env);
    } catch {
      // No permission to read it: as if unset.
    }
  }
  return env;
}

/**
 * Reads the `PQ_*` variables of the table (`PQ_WORKERS`,
 * `PQ_CONCURRENT_TASKS`...); other variables are ignored. Numbers are
 * parsed, booleans accept true/false/1/0/yes/no, lists are
 * comma-separated.
 *
 * @throws {SettingsError} for a bad value, naming the setting, the
 * variable and the value.
 *
 * @example
 * ```ts
 *
 * settingsFromEnv({ PQ_WORKERS: "3", HOME: "/root" }); // { workers: 3 }
 * ```
 */
export function settingsFromEnv(
  env: Record<string, string | undefined>,
): Partial<Settings> {
  const settings: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const value = env[s.env];
    if (value === undefined) continue;
    settings[s.name] = checkValue(s, value, `environment ${s.env}`, true);
  }
  return settings as Partial<Settings>;
}

/**
 * Imports a config module and returns its settings. The module gives them
 * as `export default { ... }` and/or as named exports
 * (`export const workers = 2`); a named export wins over the same key of
 * the default export. `path` is resolved against the working directory
 * (a URL is used as is).
 *
 * @throws {SettingsError} for an unknown name (in the default export or as
 * a named export: they are typos) or a bad value.
 * @throws {Error} when the module cannot be imported (with the import
 * error as `cause`).
 *
 * @example
 * ```ts
 *
 * const settings = await loadConfigModule("./pq.config.ts");
 * ```
 */
export async function loadConfigModule(
  path: string,
): Promise<Partial<Settings>> {
  const url = appFileUrl(path).href;
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    throw new Error(
      `Cannot load config module '${path}': ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  const source = `config module ${path}`;
  // `manager` is the application's Manager class, not a setting (manager.ts).
  const { default: fromDefault, manager: _manager, ...named } = module;
  if (
    fromDefault !== undefined &&
    (typeof fromDefault !== "object" || fromDefault === null ||
      Array.isArray(fromDefault))
  ) {
    throw new SettingsError("default", fromDefault, "an object of settings", {
      source,
      message: `The default export of config module ${path} must be ` +
        `an object of settings, as in export default { workers: 2 }`,
    });
  }
  return {
    ...validateSettings((fromDefault ?? {}) as Record<string, unknown>, source),
    ...validateSettings(named, source),
  };
}

/** The config module to read: the one named, or ./pq.config.ts if present. */
function configPath(named: string | undefined): string | undefined {
  if (named) return named;
  return exists(appFileUrl("pq.config.ts")) ? "pq.config.ts" : undefined;
}

/**
 * Resolves every setting from its sources. Precedence, lowest to highest:
 *
 * 1. defaults (the table);
 * 2. the config module: the one named by `--config`, else by `PQ_CONFIG`,
 *    else by the `config` option, else `./pq.config.ts` when it exists;
 * 3. constructor options (`new PulsarQueue({ ... })`): what code says
 *    explicitly beats a config file found in the working directory;
 * 4. `PQ_*` environment variables;
 * 5. command-line flags.
 *
 * Every source is validated; the result's `config` is the module read ("" if
 * none). With `--help` the config module is not read, so that a broken one
 * does not hide the help.
 *
 * @throws {SettingsError} for an unknown setting or a bad value in any
 * source.
 *
 * @example
 * ```ts
 *
 * const { settings } = await resolveSettings({
 *   options: { workers: 4 },
 *   args: ["--workers", "2"],
 *   env: { PQ_LOG_LEVEL: "debug" },
 * });
 * settings.workers; // 2: the flag wins over the option
 * ```
 */
export async function resolveSettings(sources: {
  options?: Record<string, unknown>;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Flags of a command, allowed in `args` and returned as `commandValues`. */
  commandOptions?: CommandOptions;
}): Promise<{
  settings: Settings;
  help: boolean;
  version: boolean;
  positionals: string[];
  commandValues?: Record<string, unknown>;
}> {
  const fromOptions = validateSettings(
    sources.options ?? {},
    "constructor options",
  );
  const cli = parseCliArgs(sources.args ?? [], sources.commandOptions);
  const fromEnv = settingsFromEnv(sources.env ?? {});
  const path = cli.help || cli.version
    ? undefined
    : configPath(cli.settings.config ?? fromEnv.config ?? fromOptions.config);
  const fromConfig = path ? await loadConfigModule(path) : {};
  return {
    settings: {
      ...defaultSettings(),
      ...fromConfig,
      ...fromOptions,
      ...fromEnv,
      ...cli.settings,
      config: path ?? "",
    },
    help: cli.help,
    version: cli.version,
    positionals: cli.positionals,
    ...(cli.commandValues && { commandValues: cli.commandValues }),
  };
}
