/**
 * The settings table: one row per setting. CLI parsing, the config module,
 * `PQ_*` environment variables, `--help` and the README's table all come
 * from it, and every value is checked where it comes in.
 *
 * Precedence, lowest to highest: defaults < constructor options < config
 * module < `PQ_*` environment variables < command-line flags.
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describeValue, SettingsError } from "./errors.ts";
import { LOG_LEVELS, type Settings } from "./settings_types.ts";

/** The kinds of value a setting takes. */
type Kind =
  | { type: "int"; min: number }
  | { type: "number"; min: number; exclusive: boolean }
  | { type: "string"; check?: (value: string) => string | undefined }
  | { type: "enum"; choices: readonly string[] }
  | { type: "boolean" }
  | { type: "list" };

/** One row of the settings table. */
export interface SettingSpec {
  /** The setting's name (camelCase). */
  name: keyof Settings;
  /** The command-line flag, without `--`. */
  flag: string;
  /** A one-letter flag, without `-`. */
  short?: string;
  /** The environment variable. */
  env: string;
  /** What values it takes. */
  kind: Kind;
  /** The default value. */
  default: () => Settings[keyof Settings];
  /** How the default reads in help. */
  defaultText?: string;
  /** What it does. */
  help: string;
}

const STORE_SCHEMES = ["sqlite:", "redis://", "rediss://"];

function storeUrl(value: string): string | undefined {
  return STORE_SCHEMES.some((scheme) => value.startsWith(scheme))
    ? undefined
    : `a store URL starting with ${STORE_SCHEMES.join(", ")}`;
}

function spec(
  name: keyof Settings,
  kind: Kind,
  fallback: () => Settings[keyof Settings],
  help: string,
  extra: Partial<SettingSpec> = {},
): SettingSpec {
  return {
    name,
    flag: name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()),
    env: "PQ_" + name.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase(),
    kind,
    default: fallback,
    help,
    ...extra,
  };
}

/** Every setting of pq. */
export const SETTINGS: readonly SettingSpec[] = [
  spec(
    "workers",
    { type: "int", min: 0 },
    () => 1,
    "Worker processes; 0 runs tasks in the server process itself.",
    { short: "w" },
  ),
  spec(
    "concurrentTasks",
    { type: "int", min: 1 },
    () => 2 * navigator.hardwareConcurrency,
    "Tasks each worker process runs at once.",
    { defaultText: "2 × CPU cores" },
  ),
  spec(
    "dataStore",
    { type: "string", check: storeUrl },
    () => "sqlite:pq.sqlite",
    "Store URL: sqlite:<file>, sqlite::memory: or redis://host:port/db?namespace=pq.",
  ),
  spec(
    "messageBroker",
    { type: "string", check: (v) => v === "" ? undefined : storeUrl(v) },
    () => "",
    "Store URL of the queues when they live apart from dataStore (empty: the same).",
  ),
  spec(
    "messageSerializer",
    { type: "enum", choices: ["json", "msgpack"] },
    () => "json",
    "How tasks and messages are encoded in the store.",
  ),
  spec(
    "maxRequests",
    { type: "int", min: 0 },
    () => 0,
    "Tasks a worker process runs before it is replaced (0: no limit).",
  ),
  spec(
    "taskPoolTimeout",
    { type: "number", min: 0, exclusive: true },
    () => 0.1,
    "Seconds an idle worker waits for tasks before it looks again.",
  ),
  spec(
    "schedulePeriodic",
    { type: "boolean" },
    () => false,
    "Schedule periodic jobs on this server.",
  ),
  spec(
    "taskPaths",
    { type: "list" },
    () => [],
    "Modules, folders and packages that define jobs (comma-separated or repeated).",
  ),
  spec(
    "taskQueues",
    { type: "list" },
    () => ["pulsarqueue"],
    "Queues this server consumes, after the host's local queue.",
  ),
  spec(
    "defaultTaskQueue",
    { type: "string", check: (v) => v ? undefined : "a queue name" },
    () => "pulsarqueue",
    "The queue of tasks whose job names none.",
  ),
  spec(
    "config",
    { type: "string" },
    () => "",
    "A config module: `export default { workers: 2, ... }` (default: ./pq.config.ts when it exists).",
    { short: "c" },
  ),
  spec(
    "logLevel",
    { type: "enum", choices: LOG_LEVELS },
    () => "info",
    "The lowest level the command line logs.",
  ),
  spec(
    "leaseTimeout",
    { type: "number", min: 0, exclusive: true },
    () => 30,
    "Seconds a running task's lease lasts unless its worker renews it; a task whose worker died runs again after it.",
  ),
  spec(
    "maxRedeliveries",
    { type: "int", min: 0 },
    () => 3,
    "Lease expiries after which a task ends as FAILURE instead of running again.",
  ),
  spec(
    "resultTtl",
    { type: "number", min: 0, exclusive: false },
    () => 86400,
    "Seconds a finished task and its result are kept.",
  ),
  spec(
    "gracePeriod",
    { type: "number", min: 0, exclusive: false },
    () => 30,
    "Seconds running tasks get to finish on shutdown before they are released to run elsewhere.",
  ),
];

const BY_NAME = new Map(SETTINGS.map((s) => [s.name as string, s]));

/** Every setting at its default value. */
export function defaultSettings(): Settings {
  return Object.fromEntries(
    SETTINGS.map((s) => [s.name, s.default()]),
  ) as unknown as Settings;
}

/** What a kind of setting expects, for messages. */
function expected(kind: Kind): string {
  switch (kind.type) {
    case "int":
      return `a whole number >= ${kind.min}`;
    case "number":
      return `a number ${kind.exclusive ? ">" : ">="} ${kind.min}`;
    case "enum":
      return `one of ${kind.choices.join(", ")}`;
    case "boolean":
      return "true or false";
    case "list":
      return "a list of names";
    case "string":
      return "a string";
  }
}

/**
 * Checks one value. `fromText` values (CLI, env) are parsed from strings;
 * values from code must already have the right type.
 */
function checkValue(
  s: SettingSpec,
  value: unknown,
  source: string,
  fromText: boolean,
): Settings[keyof Settings] {
  const fail = (what = expected(s.kind)): never => {
    throw new SettingsError(s.name, value, what, { source });
  };
  const kind = s.kind;
  switch (kind.type) {
    case "int":
    case "number": {
      const number =
        fromText && typeof value === "string" && value.trim() !== ""
          ? Number(value)
          : value;
      if (typeof number !== "number" || !Number.isFinite(number)) return fail();
      if (kind.type === "int" && !Number.isInteger(number)) return fail();
      const below = kind.type === "number" && kind.exclusive
        ? number <= kind.min
        : number < kind.min;
      if (below) return fail();
      return number;
    }
    case "boolean": {
      if (typeof value === "boolean") return value;
      if (fromText && typeof value === "string") {
        const text = value.toLowerCase();
        if (["true", "1", "yes", "on"].includes(text)) return true;
        if (["false", "0", "no", "off", ""].includes(text)) return false;
      }
      return fail();
    }
    case "enum":
      if (typeof value !== "string" || !kind.choices.includes(value)) {
        return fail();
      }
      return value as Settings[keyof Settings];
    case "list": {
      const items = fromText && typeof value === "string"
        ? value.split(",").map((item) => item.trim()).filter(Boolean)
        : value;
      if (
        !Array.isArray(items) ||
        !items.every((item) => typeof item === "string" && item.length > 0)
      ) return fail("a list of non-empty strings");
      return [...items] as string[];
    }
    case "string": {
      if (typeof value !== "string") return fail();
      const problem = kind.check?.(value);
      if (problem) return fail(problem);
      return value;
    }
  }
}

/** The closest setting name to a misspelt one, for the error message. */
function suggestion(name: string): string {
  const lower = name.toLowerCase().replace(/[-_]/g, "");
  const match = SETTINGS.find((s) => s.name.toLowerCase() === lower);
  return match ? ` (did you mean '${match.name}'?)` : "";
}

/**
 * Checks settings given as an object (constructor options, config module).
 * Unknown names and values of the wrong type are a `SettingsError` naming
 * the setting, the value and `source`.
 *
 * @example
 * ```ts
 * import { validateSettings } from "./settings.ts";
 * validateSettings({ workers: 2 }, "constructor options"); // { workers: 2 }
 * ```
 */
export function validateSettings(
  input: Record<string, unknown>,
  source: string,
): Partial<Settings> {
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const s = BY_NAME.get(name);
    if (!s) {
      throw new SettingsError(
        name,
        value,
        `a known setting${suggestion(name)}`,
        {
          source,
        },
      );
    }
    settings[name] = checkValue(s, value, source, false);
  }
  return settings as Partial<Settings>;
}

/**
 * Parses command-line flags (`--workers 2`, `--task-paths a,b`...).
 *
 * @example
 * ```ts
 * import { parseCliArgs } from "./settings.ts";
 * parseCliArgs(["--workers", "2"]).settings; // { workers: 2 }
 * ```
 */
export function parseCliArgs(
  args: string[],
): { settings: Partial<Settings>; help: boolean; positionals: string[] } {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const s of SETTINGS) {
    options[s.flag] = {
      type: s.kind.type === "boolean" ? "boolean" : "string",
      ...(s.short ? { short: s.short } : {}),
      ...(s.kind.type === "list" ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const flag = message.match(/'(-[^' ]+)/)?.[1] ?? args.join(" ");
    throw new SettingsError(
      flag,
      args.join(" "),
      "a known option with its value",
      {
        source: "command line",
        cause: error,
        message: `Unknown or incomplete option: ${message}`,
      },
    );
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
    positionals: parsed.positionals,
  };
}

/**
 * Reads the `PQ_*` variables of the table; other variables are ignored.
 *
 * @example
 * ```ts
 * import { settingsFromEnv } from "./settings.ts";
 * settingsFromEnv({ PQ_WORKERS: "3" }); // { workers: 3 }
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
 * Imports a config module: `export default { ... }` and/or named exports,
 * each a setting. Unknown names are an error (they are typos).
 *
 * @example
 * ```ts
 * import { loadConfigModule } from "./settings.ts";
 * const settings = await loadConfigModule("./pq.config.ts");
 * ```
 */
export async function loadConfigModule(
  path: string,
): Promise<Partial<Settings>> {
  const url = /^[a-z]+:/i.test(path) && !/^[a-z]:\\/i.test(path)
    ? path
    : pathToFileURL(resolve(Deno.cwd(), path)).href;
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
  const { default: fromDefault, ...named } = module;
  if (
    fromDefault !== undefined &&
    (typeof fromDefault !== "object" || fromDefault === null ||
      Array.isArray(fromDefault))
  ) {
    throw new SettingsError("default", fromDefault, "an object of settings", {
      source,
    });
  }
  return {
    ...validateSettings((fromDefault ?? {}) as Record<string, unknown>, source),
    ...validateSettings(named, source),
  };
}

/** The config module to read: the one named, or ./pq.config.ts if present. */
function configPath(named: unknown): string | undefined {
  if (typeof named === "string" && named) return named;
  try {
    return Deno.statSync("pq.config.ts").isFile ? "pq.config.ts" : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves every setting from its sources. Precedence, lowest to highest:
 * defaults < constructor options < config module < `PQ_*` environment
 * variables < command-line flags. The config module is the one named by
 * the flag, the variable or the options (in that order), else
 * `./pq.config.ts` when it exists.
 *
 * @example
 * ```ts
 * import { resolveSettings } from "./settings.ts";
 * const { settings } = await resolveSettings({ args: ["--workers", "2"] });
 * ```
 */
export async function resolveSettings(sources: {
  options?: Record<string, unknown>;
  args?: string[];
  env?: Record<string, string | undefined>;
}): Promise<{ settings: Settings; help: boolean; positionals: string[] }> {
  const fromOptions = validateSettings(
    sources.options ?? {},
    "constructor options",
  );
  const cli = parseCliArgs(sources.args ?? []);
  const fromEnv = settingsFromEnv(sources.env ?? {});
  const path = configPath(
    cli.settings.config ?? fromEnv.config ?? fromOptions.config,
  );
  const fromConfig = path ? await loadConfigModule(path) : {};
  return {
    settings: {
      ...defaultSettings(),
      ...fromOptions,
      ...fromConfig,
      ...fromEnv,
      ...cli.settings,
    },
    help: cli.help,
    positionals: cli.positionals,
  };
}

function defaultText(s: SettingSpec): string {
  if (s.defaultText) return s.defaultText;
  const value = s.default();
  if (Array.isArray(value)) return value.join(",") || "(none)";
  if (value === "") return "(none)";
  return String(value);
}

/**
 * The `--help` text, generated from the table.
 *
 * @example
 * ```ts
 * import { helpText } from "./settings.ts";
 * console.log(helpText());
 * ```
 */
export function helpText(program = "pq"): string {
  const lines = [
    `Usage: ${program} [serve] [options]`,
    "",
    "Runs a pq server. Every option can also be set by its PQ_* environment",
    "variable or in a config module. Precedence, lowest to highest: defaults,",
    "constructor options, config module, environment, command line.",
    "",
    "Options:",
  ];
  for (const s of SETTINGS) {
    const flags = (s.short ? `-${s.short}, ` : "    ") + `--${s.flag}` +
      (s.kind.type === "boolean" ? "" : " <value>");
    lines.push(`  ${flags}`);
    lines.push(`        ${s.help}`);
    lines.push(`        env ${s.env}; default ${defaultText(s)}`);
  }
  lines.push("  -h, --help");
  lines.push("        Show this help.");
  return lines.join("\n");
}

/**
 * The settings as a Markdown table (for the README).
 *
 * @example
 * ```ts
 * import { settingsMarkdownTable } from "./settings.ts";
 * console.log(settingsMarkdownTable());
 * ```
 */
export function settingsMarkdownTable(): string {
  const rows = SETTINGS.map((s) =>
    `| \`${s.name}\` | \`--${s.flag}\`${
      s.short ? ` \`-${s.short}\`` : ""
    } | \`${s.env}\` | ${defaultText(s)} | ${s.help} |`
  );
  return [
    "| setting | flag | env | default | meaning |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** Used by messages: a value as typed. */
export { describeValue };
