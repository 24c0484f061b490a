/**
 * The settings table: one row per setting. CLI parsing, the config module,
 * `PQ_*` environment variables, `--help` and the docs' table all come from
 * it, and every value is checked where it comes in (reading the sources is
 * `runtime/settings.ts`).
 * @module
 */
import { didYouMean } from "./_did_you_mean.ts";
import { CODEC_NAMES } from "./codec.ts";
import { SettingsError } from "./errors.ts";
import { LOG_LEVELS, type Settings } from "./settings_types.ts";

export type { LogLevel, Settings } from "./settings_types.ts";

/** The kinds of value a setting takes, and their bounds. */
export type SettingKind =
  | { type: "int"; min: number }
  | {
    type: "number";
    min: number;
    exclusive: boolean;
    /** The word for no bound (`forever`): the value is then `Infinity`. */
    unbounded?: string;
  }
  | { type: "string"; check?: (value: string) => string | undefined }
  | { type: "enum"; choices: readonly string[] }
  | { type: "boolean" }
  | { type: "list" };

/** One row of the settings table. */
export interface SettingSpec {
  /** The setting's name, camelCase as in {@linkcode Settings}. */
  name: keyof Settings;
  /** The command-line flag, kebab-case, without `--`. */
  flag: string;
  /** A one-letter flag, without `-`. */
  short?: string;
  /** The environment variable: `PQ_` and the name in SCREAMING_SNAKE. */
  env: string;
  /** What values it takes. */
  kind: SettingKind;
  /** Makes the default value. */
  default: () => Settings[keyof Settings];
  /** How the default reads in help, when not the value itself. */
  defaultText?: string;
  /** How the flag's value reads in help (`<n>`, `<url>`...). */
  metavar?: string;
  /** What it does. */
  help: string;
  /**
   * True for a setting only a server reads (its processes, its claims): the
   * other `pq` commands refuse its flag rather than ignore it.
   */
  serverOnly?: boolean;
}

const STORE_SCHEMES = ["sqlite:", "redis://", "rediss://", "redis+sentinel://"];

/** Checks a store URL: one of the schemes, and something after it. */
function storeUrl(value: string): string | undefined {
  const scheme = STORE_SCHEMES.find((scheme) => value.startsWith(scheme));
  return scheme && value.length > scheme.length
    ? undefined
    : "a store URL starting with sqlite:, redis://, rediss:// or redis+sentinel:// " +
      "(sqlite:<path>, sqlite::memory:, redis://host:port/db)";
}

/** Makes a row; the flag and variable names derive from the setting name. */
function spec(
  name: keyof Settings,
  kind: SettingKind,
  fallback: () => Settings[keyof Settings],
  help: string,
  extra: Partial<SettingSpec> = {},
): SettingSpec {
  return Object.freeze({
    name,
    flag: name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()),
    env: "PQ_" + name.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase(),
    kind,
    default: fallback,
    help,
    ...extra,
  });
}

/**
 * Every setting of pq: name, flag, variable, kind, default and help. The
 * rest of this module is generated from it.
 *
 * @example
 * ```ts
 * import { SETTINGS } from "./settings_table.ts";
 * const workers = SETTINGS.find((s) => s.name === "workers");
 * console.log(workers?.flag, workers?.env); // "workers" "PQ_WORKERS"
 * ```
 */
export const SETTINGS: readonly SettingSpec[] = Object.freeze([
  spec(
    "workers",
    { type: "int", min: 0 },
    () => 1,
    "Worker processes; 0 runs tasks in the server process itself.",
    { short: "w", metavar: "<n>", serverOnly: true },
  ),
  spec(
    "concurrentTasks",
    { type: "int", min: 1 },
    () => 2 * (navigator.hardwareConcurrency || 1),
    "Tasks each worker process runs at once.",
    { defaultText: "2 × CPU cores", metavar: "<n>", serverOnly: true },
  ),
  spec(
    "threadWorkers",
    { type: "int", min: 1 },
    () => 5,
    "Web Workers each worker process keeps for THREAD_IO jobs.",
    { metavar: "<n>", serverOnly: true },
  ),
  spec(
    "dataStore",
    { type: "string", check: storeUrl },
    () => "sqlite:pq.sqlite",
    "Store URL: sqlite:<path>, sqlite::memory: or redis://host:port/db?namespace=pq.",
    { metavar: "<url>" },
  ),
  spec(
    "messageBroker",
    { type: "string", check: (v) => v === "" ? undefined : storeUrl(v) },
    () => "",
    "Store URL of the queues when they live apart from dataStore.",
    { defaultText: "same as dataStore", metavar: "<url>" },
  ),
  spec(
    "storeWait",
    { type: "number", min: 0, exclusive: false, unbounded: "forever" },
    // A server waits for its store as BullMQ and Celery do: started before
    // Redis (a reboot, a compose file), it runs once Redis does.
    () => Infinity,
    "Seconds a server (its arbiter and worker processes) waits at start-up for a store it cannot reach (connection refused or timed out, host name not resolving), trying again every 0.5 s to 5 s; forever: no limit; 0: exit at once. A bad URL or password exits at once; clients (pq commands, producers) never wait.",
    { defaultText: "forever", metavar: "<seconds>", serverOnly: true },
  ),
  spec(
    "messageSerializer",
    { type: "enum", choices: CODEC_NAMES },
    () => "json",
    "How tasks and messages are encoded in the store.",
  ),
  spec(
    "maxRequests",
    { type: "int", min: 0 },
    () => 0,
    "Tasks a worker process runs before it is replaced (0: no limit).",
    { metavar: "<n>", serverOnly: true },
  ),
  spec(
    "taskPoolTimeout",
    { type: "number", min: 0, exclusive: true },
    // Long, so that an idle worker is quiet: a queued task wakes it at once.
    () => 30,
    "Longest an idle worker waits before it looks for tasks again (half of leaseTimeout at most: then it reclaims expired leases); a queued task wakes it at once (it blocks on Redis; on SQLite it wakes when another process writes the file on Linux, and looks every 20 ms elsewhere).",
    { metavar: "<seconds>", serverOnly: true },
  ),
  spec(
    "schedulePeriodic",
    { type: "boolean" },
    () => false,
    "Schedule periodic jobs on this server.",
    { serverOnly: true },
  ),
  spec(
    "taskPaths",
    { type: "list" },
    () => [],
    "Modules, folders and packages that define jobs (comma-separated or repeated).",
    { metavar: "<path,...>" },
  ),
  spec(
    "taskQueues",
    { type: "list" },
    () => ["pulsarqueue"],
    "Queues this server consumes, after the host's local queue (comma-separated or repeated).",
    { metavar: "<name,...>" },
  ),
  spec(
    "defaultTaskQueue",
    {
      type: "string",
      check: (v) => v ? undefined : "a non-empty queue name",
    },
    () => "pulsarqueue",
    "The queue of tasks whose job names none.",
    { metavar: "<name>" },
  ),
  spec(
    "config",
    { type: "string" },
    () => "",
    "A config module, `export default { workers: 2, ... }`, read before the environment and flags.",
    {
      short: "c",
      defaultText: "./pq.config.ts if it exists",
      metavar: "<path>",
    },
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
    { metavar: "<seconds>", serverOnly: true },
  ),
  spec(
    "maxRedeliveries",
    { type: "int", min: 0 },
    () => 3,
    "Lease expiries after which a task ends as FAILURE instead of running again.",
    { metavar: "<n>", serverOnly: true },
  ),
  spec(
    "resultTtl",
    { type: "number", min: 0, exclusive: false },
    () => 86400,
    "Seconds a finished task and its result are kept.",
    { metavar: "<seconds>" },
  ),
  spec(
    "maxMemory",
    { type: "int", min: 0 },
    () => 0,
    "MiB of resident memory after which a worker process stops claiming, lets its tasks finish and is replaced (0: no limit).",
    { metavar: "<MiB>", serverOnly: true },
  ),
  spec(
    "gracePeriod",
    { type: "number", min: 0, exclusive: false },
    () => 30,
    "Seconds running tasks get to finish on shutdown before they are released to run elsewhere.",
    { metavar: "<seconds>", serverOnly: true },
  ),
  spec(
    "metricsPort",
    { type: "int", min: 0 },
    () => 0,
    "Port on 127.0.0.1 where the server serves its Prometheus metrics at /metrics, for all its worker processes (0: off).",
    { metavar: "<port>", serverOnly: true },
  ),
]);

const BY_NAME: ReadonlyMap<string, SettingSpec> = new Map(
  SETTINGS.map((s) => [s.name, s]),
);
/** The settings by their command-line flag. */
export const BY_FLAG: ReadonlyMap<string, SettingSpec> = new Map(
  SETTINGS.flatMap((s) => [
    [`--${s.flag}`, s] as const,
    ...(s.short ? [[`-${s.short}`, s] as const] : []),
  ]),
);

/**
 * Every setting at its default value (a new object each call).
 *
 * @example
 * ```ts
 * import { defaultSettings } from "./settings_table.ts";
 * defaultSettings().dataStore; // "sqlite:pq.sqlite"
 * ```
 */
export function defaultSettings(): Settings {
  return Object.fromEntries(
    SETTINGS.map((s) => [s.name, s.default()]),
  ) as unknown as Settings;
}

/** What a kind of setting expects, for messages. */
function expected(kind: SettingKind): string {
  switch (kind.type) {
    case "int":
      return `a whole number >= ${kind.min}`;
    case "number":
      return `a number ${kind.exclusive ? ">" : ">="} ${kind.min}${
        kind.unbounded ? ` or ${kind.unbounded}` : ""
      }`;
    case "enum":
      return `one of ${kind.choices.join(", ")}`;
    case "boolean":
      return "true or false";
    case "list":
      return "a list of non-empty strings";
    case "string":
      return "a string";
  }
}

/** A decimal number as typed: no hex, no `Infinity`, no blanks. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Checks one value and returns it in its type. `fromText` values (CLI,
 * environment) are parsed from strings; values from code and config
 * modules must already have the right type.
 */
export function checkValue(
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
      let number = value;
      const unbounded = kind.type === "number" ? kind.unbounded : undefined;
      if (unbounded !== undefined && value === Infinity) return Infinity;
      if (
        fromText && typeof value === "string" && unbounded !== undefined &&
        value.trim().toLowerCase() === unbounded
      ) return Infinity;
      if (fromText && typeof value === "string") {
        const text = value.trim();
        if (!DECIMAL.test(text)) return fail();
        number = Number(text);
      }
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
        const text = value.trim().toLowerCase();
        if (["true", "1", "yes", "on"].includes(text)) return true;
        if (["false", "0", "no", "off", ""].includes(text)) return false;
        return fail("true, false, 1, 0, yes or no");
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
      ) return fail();
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

/**
 * Checks settings given as an object: constructor options or a config
 * module. Every key must be a setting and every value must already have
 * the setting's type (numbers as numbers, lists as arrays); `undefined`
 * values are skipped. `source` names where they came from in messages.
 *
 * @throws {SettingsError} for an unknown name (with the closest setting,
 * when one is close) or a bad value, naming the setting, the value and
 * `source`.
 *
 * @example
 * ```ts
 * import { validateSettings } from "./settings_table.ts";
 * validateSettings({ workers: 2 }, "constructor options"); // { workers: 2 }
 * validateSettings({ workers: "2" }, "constructor options"); // throws
 * ```
 */
export function validateSettings(
  input: Record<string, unknown>,
  source: string,
): Partial<Settings> {
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input ?? {})) {
    if (value === undefined) continue;
    const s = BY_NAME.get(name);
    if (!s) {
      throw new SettingsError(name, value, "a known setting", {
        source,
        message: `Unknown setting '${name}' in ${source}${
          didYouMean(name, BY_NAME.keys()) ||
          `; known settings: ${[...BY_NAME.keys()].join(", ")}`
        }`,
      });
    }
    settings[name] = checkValue(s, value, source, false);
  }
  return settings as Partial<Settings>;
}

/** How a setting's default reads. */
function defaultText(s: SettingSpec): string {
  if (s.defaultText) return s.defaultText;
  const value = s.default();
  if (Array.isArray(value)) return value.join(",") || "none";
  return value === "" ? "none" : String(value);
}

/** The flags of a setting as help shows them. */
function flagsText(s: SettingSpec): string {
  const value = s.kind.type === "boolean" ? "" : " " + (s.metavar ??
    (s.kind.type === "enum" ? `<${s.kind.choices.join("|")}>` : "<value>"));
  const negative = s.kind.type === "boolean" ? `, --no-${s.flag}` : "";
  return (s.short ? `-${s.short}, ` : "    ") + `--${s.flag}${value}` +
    negative;
}

/** The width help text is wrapped to. */
const HELP_WIDTH = 80;

/**
 * Text wrapped as help is: its words joined into lines of at most `width`
 * characters, each after `indent`.
 *
 * @example
 * ```ts
 * import { wrap } from "./settings_table.ts";
 * wrap("a few words", "  ", 9); // ["  a few", "  words"]
 * ```
 */
export function wrap(
  text: string,
  indent: string,
  width: number = HELP_WIDTH,
): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/**
 * One flag as help shows it: the flag line, then its help (and `more`, such
 * as its variable and default) wrapped under it. The command line's help of
 * commands uses it too, so every flag reads the same.
 *
 * @example
 * ```ts
 * import { flagHelpLines } from "./settings_table.ts";
 * flagHelpLines("    --json", "Print JSON.");
 * // ["      --json", "        Print JSON."]
 * ```
 */
export function flagHelpLines(
  flags: string,
  help: string,
  more?: string,
): string[] {
  return [
    `  ${flags}`,
    ...wrap(help, "        "),
    ...(more ? wrap(more, "        ") : []),
  ];
}

/**
 * The help of one setting's flag: its flags, its help, its variable and
 * its default.
 *
 * @example
 * ```ts
 * import { SETTINGS, settingHelpLines } from "./settings_table.ts";
 * console.log(settingHelpLines(SETTINGS[0]).join("\n"));
 * ```
 */
export function settingHelpLines(s: SettingSpec): string[] {
  return flagHelpLines(
    flagsText(s),
    s.help,
    `env ${s.env}; default: ${defaultText(s)}`,
  );
}

/**
 * The `--help` text of a server, generated from the table: a usage line,
 * then for each setting its flags, its help, its variable and its default.
 *
 * @example
 * ```ts
 * import { helpText } from "./settings_table.ts";
 * console.log(helpText("pq"));
 * ```
 */
export function helpText(program = "pq"): string {
  const lines = [
    `Usage: ${program} [serve] [options]`,
    "",
    ...wrap(
      "Runs a pq server. Every option can also be set by its PQ_* " +
        "environment variable or in a config module. Precedence, lowest to " +
        "highest: defaults, config module, constructor options, " +
        "environment, command line.",
      "",
    ),
    "",
    "Options:",
  ];
  for (const s of SETTINGS) lines.push(...settingHelpLines(s));
  lines.push(...flagHelpLines("-h, --help", "Show this help."));
  return lines.join("\n");
}

/** Escapes text for a Markdown table cell (outside code spans). */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The settings as a Markdown table for docs/settings.md: setting, flag,
 * environment variable, default and meaning.
 *
 * @example
 * ```ts
 * import { settingsMarkdownTable } from "./settings_table.ts";
 * console.log(settingsMarkdownTable());
 * ```
 */
export function settingsMarkdownTable(): string {
  const rows = SETTINGS.map((s) => {
    const flags = [`\`--${s.flag}\``];
    if (s.short) flags.push(`\`-${s.short}\``);
    if (s.kind.type === "boolean") flags.push(`\`--no-${s.flag}\``);
    const value = s.default();
    const empty = value === "" || (Array.isArray(value) && !value.length);
    const fallback = s.defaultText || empty
      ? cell(defaultText(s))
      : `\`${defaultText(s)}\``;
    return `| \`${s.name}\` | ${
      flags.join(", ")
    } | \`${s.env}\` | ${fallback} | ${cell(s.help)} |`;
  });
  return [
    "| Setting | Flag | Environment | Default | Meaning |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
