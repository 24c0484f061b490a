import assert from "node:assert/strict";
import { SettingsError } from "../src/model/errors.ts";
import {
  defaultSettings,
  helpText,
  SETTINGS,
  settingsMarkdownTable,
  validateSettings,
} from "../src/model/settings_table.ts";
import {
  loadConfigModule,
  parseCliArgs,
  resolveSettings,
  settingsFromEnv,
} from "../src/runtime/settings.ts";

/** Asserts that `fn` throws a SettingsError whose message has every part. */
function assertSettingsError(fn: () => unknown, ...parts: string[]): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof SettingsError, `expected SettingsError`);
  for (const part of parts) {
    assert.ok(
      thrown.message.includes(part),
      `message ${JSON.stringify(thrown.message)} lacks ${JSON.stringify(part)}`,
    );
  }
}

/** The async form of {@linkcode assertSettingsError}. */
async function assertRejectsSettingsError(
  fn: () => Promise<unknown>,
  ...parts: string[]
): Promise<void> {
  const error = await fn().then(() => undefined, (error) => error);
  assertSettingsError(() => {
    if (error) throw error;
  }, ...parts);
}

/** Writes a temporary config module, runs `fn` with its path, removes it. */
async function withConfig<T>(
  text: string,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "pq_config_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

const EXPECTED_FLAGS = [
  "--workers",
  "--concurrent-tasks",
  "--thread-workers",
  "--data-store",
  "--message-broker",
  "--store-wait",
  "--message-serializer",
  "--max-requests",
  "--task-pool-timeout",
  "--schedule-periodic",
  "--task-paths",
  "--task-queues",
  "--default-task-queue",
  "--config",
  "--log-level",
  "--lease-timeout",
  "--max-redeliveries",
  "--result-ttl",
  "--max-memory",
  "--grace-period",
  "--metrics-port",
];

Deno.test("defaults are the documented values", () => {
  assert.deepEqual(defaultSettings(), {
    workers: 1,
    concurrentTasks: 2 * navigator.hardwareConcurrency,
    threadWorkers: 5,
    dataStore: "sqlite:pq.sqlite",
    messageBroker: "",
    storeWait: Infinity,
    messageSerializer: "json",
    maxRequests: 0,
    taskPoolTimeout: 30,
    schedulePeriodic: false,
    taskPaths: [],
    taskQueues: ["pulsarqueue"],
    defaultTaskQueue: "pulsarqueue",
    config: "",
    logLevel: "info",
    leaseTimeout: 30,
    maxRedeliveries: 3,
    resultTtl: 86400,
    maxMemory: 0,
    gracePeriod: 30,
    metricsPort: 0,
  });
});

Deno.test("defaults are a fresh object each time", () => {
  const first = defaultSettings();
  first.taskQueues.push("mutated");
  first.workers = 99;
  assert.deepEqual(defaultSettings().taskQueues, ["pulsarqueue"]);
  assert.equal(defaultSettings().workers, 1);
});

Deno.test("the table names flags in kebab-case and variables PQ_SCREAMING_SNAKE", () => {
  assert.deepEqual(SETTINGS.map((s) => `--${s.flag}`), EXPECTED_FLAGS);
  assert.deepEqual(SETTINGS.map((s) => s.env), [
    "PQ_WORKERS",
    "PQ_CONCURRENT_TASKS",
    "PQ_THREAD_WORKERS",
    "PQ_DATA_STORE",
    "PQ_MESSAGE_BROKER",
    "PQ_STORE_WAIT",
    "PQ_MESSAGE_SERIALIZER",
    "PQ_MAX_REQUESTS",
    "PQ_TASK_POOL_TIMEOUT",
    "PQ_SCHEDULE_PERIODIC",
    "PQ_TASK_PATHS",
    "PQ_TASK_QUEUES",
    "PQ_DEFAULT_TASK_QUEUE",
    "PQ_CONFIG",
    "PQ_LOG_LEVEL",
    "PQ_LEASE_TIMEOUT",
    "PQ_MAX_REDELIVERIES",
    "PQ_RESULT_TTL",
    "PQ_MAX_MEMORY",
    "PQ_GRACE_PERIOD",
    "PQ_METRICS_PORT",
  ]);
  assert.deepEqual(
    SETTINGS.filter((s) => s.short).map((s) => [s.name, s.short]),
    [["workers", "w"], ["config", "c"]],
  );
  assert.deepEqual(
    SETTINGS.map((s) => s.name).sort(),
    Object.keys(defaultSettings()).sort(),
  );
});

Deno.test("command line parses every kind of setting", () => {
  const { settings, help, positionals } = parseCliArgs([
    "serve",
    "--workers",
    "3",
    "--concurrent-tasks=8",
    "--data-store",
    "redis://localhost:6379/0?namespace=pq",
    "--message-broker",
    "rediss://broker:6380",
    "--message-serializer",
    "msgpack",
    "--max-requests",
    "100",
    "--task-pool-timeout",
    "0.5",
    "--schedule-periodic",
    "--task-paths",
    "./jobs/",
    "--task-queues",
    "a,b",
    "--default-task-queue",
    "main",
    "--config",
    "./my.config.ts",
    "--log-level",
    "debug",
    "--lease-timeout",
    "12.5",
    "--max-redeliveries",
    "0",
    "--result-ttl",
    "0",
    "--grace-period",
    "2",
    "--thread-workers",
    "3",
  ]);
  assert.equal(help, false);
  assert.deepEqual(positionals, ["serve"]);
  assert.deepEqual(settings, {
    workers: 3,
    concurrentTasks: 8,
    threadWorkers: 3,
    dataStore: "redis://localhost:6379/0?namespace=pq",
    messageBroker: "rediss://broker:6380",
    messageSerializer: "msgpack",
    maxRequests: 100,
    taskPoolTimeout: 0.5,
    schedulePeriodic: true,
    taskPaths: ["./jobs/"],
    taskQueues: ["a", "b"],
    defaultTaskQueue: "main",
    config: "./my.config.ts",
    logLevel: "debug",
    leaseTimeout: 12.5,
    maxRedeliveries: 0,
    resultTtl: 0,
    gracePeriod: 2,
  });
});

Deno.test("command line gives only the flags that were passed", () => {
  assert.deepEqual(parseCliArgs([]), {
    settings: {},
    help: false,
    version: false,
    positionals: [],
  });
});

Deno.test("command line accepts short flags, --help and -h", () => {
  assert.deepEqual(parseCliArgs(["-w", "0", "-c", "pq.config.ts"]).settings, {
    workers: 0,
    config: "pq.config.ts",
  });
  assert.equal(parseCliArgs(["--help"]).help, true);
  assert.equal(parseCliArgs(["-h"]).help, true);
  assert.equal(parseCliArgs(["--version"]).version, true);
  assert.equal(parseCliArgs(["-V"]).version, true);
});

Deno.test("a negative number is a flag's value, not a flag", () => {
  // parseArgs alone refuses `--priority -3` as ambiguous.
  const commandOptions = { priority: { type: "string" as const } };
  assert.deepEqual(
    parseCliArgs(["queue", "--priority", "-3"], commandOptions).commandValues,
    { priority: "-3" },
  );
  const decimal = parseCliArgs(["--priority", "-.5", "x"], commandOptions);
  assert.deepEqual(decimal.commandValues, { priority: "-.5" });
  assert.deepEqual(decimal.positionals, ["x"]);
  assertSettingsError(
    () => parseCliArgs(["-w", "-1"]),
    "'workers' (command line --workers): expected a whole number >= 0",
  );
  // A flag after a flag that takes a value is still a missing value.
  assertSettingsError(
    () => parseCliArgs(["--workers", "--help"]),
    "needs a value",
  );
});

Deno.test("command line turns a boolean off with --no-schedule-periodic", () => {
  assert.deepEqual(parseCliArgs(["--no-schedule-periodic"]).settings, {
    schedulePeriodic: false,
  });
});

Deno.test("command line lists accept repeated flags and commas together", () => {
  const { settings } = parseCliArgs([
    "--task-paths",
    "a.ts, b/",
    "--task-paths",
    "c.ts",
    "--task-paths=d.ts,,",
    "--task-queues",
    "q1",
    "--task-queues",
    "q2,q3",
  ]);
  assert.deepEqual(settings.taskPaths, ["a.ts", "b/", "c.ts", "d.ts"]);
  assert.deepEqual(settings.taskQueues, ["q1", "q2", "q3"]);
});

Deno.test("environment parses every kind of setting", () => {
  assert.deepEqual(
    settingsFromEnv({
      PQ_WORKERS: "4",
      PQ_CONCURRENT_TASKS: "16",
      PQ_DATA_STORE: "sqlite::memory:",
      PQ_MESSAGE_BROKER: "",
      PQ_MESSAGE_SERIALIZER: "json",
      PQ_MAX_REQUESTS: "7",
      PQ_TASK_POOL_TIMEOUT: "1e-2",
      PQ_SCHEDULE_PERIODIC: "yes",
      PQ_TASK_PATHS: "a.ts,b.ts",
      PQ_TASK_QUEUES: "x, y",
      PQ_DEFAULT_TASK_QUEUE: "x",
      PQ_CONFIG: "c.ts",
      PQ_LOG_LEVEL: "warning",
      PQ_LEASE_TIMEOUT: "60",
      PQ_MAX_REDELIVERIES: "5",
      PQ_RESULT_TTL: "3600",
      PQ_GRACE_PERIOD: "0.5",
      PQ_THREAD_WORKERS: "2",
    }),
    {
      workers: 4,
      concurrentTasks: 16,
      threadWorkers: 2,
      dataStore: "sqlite::memory:",
      messageBroker: "",
      messageSerializer: "json",
      maxRequests: 7,
      taskPoolTimeout: 0.01,
      schedulePeriodic: true,
      taskPaths: ["a.ts", "b.ts"],
      taskQueues: ["x", "y"],
      defaultTaskQueue: "x",
      config: "c.ts",
      logLevel: "warning",
      leaseTimeout: 60,
      maxRedeliveries: 5,
      resultTtl: 3600,
      gracePeriod: 0.5,
    },
  );
});

Deno.test("environment booleans accept true/false, 1/0 and yes/no", () => {
  const cases: [string, boolean][] = [
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["false", false],
    ["0", false],
    ["no", false],
    ["No", false],
  ];
  for (const [text, value] of cases) {
    assert.deepEqual(settingsFromEnv({ PQ_SCHEDULE_PERIODIC: text }), {
      schedulePeriodic: value,
    }, text);
  }
  assertSettingsError(
    () => settingsFromEnv({ PQ_SCHEDULE_PERIODIC: "maybe" }),
    "'schedulePeriodic'",
    "environment PQ_SCHEDULE_PERIODIC",
    '"maybe"',
  );
});

Deno.test("environment ignores variables that are not in the table", () => {
  assert.deepEqual(
    settingsFromEnv({
      HOME: "/root",
      PQ_WORKERZ: "-5",
      PQ_UNKNOWN: "x",
      WORKERS: "9",
      PQ_WORKERS: undefined,
    }),
    {},
  );
});

Deno.test("environment lists are comma-separated; empty means none", () => {
  assert.deepEqual(settingsFromEnv({ PQ_TASK_PATHS: " a , b ,," }), {
    taskPaths: ["a", "b"],
  });
  assert.deepEqual(settingsFromEnv({ PQ_TASK_PATHS: "" }), { taskPaths: [] });
});

Deno.test("precedence: defaults < config module < options < environment < command line", async () => {
  await withConfig(
    `export default {
      workers: 5, concurrentTasks: 2, maxRequests: 2, resultTtl: 2, logLevel: "error",
    };`,
    async (path) => {
      const { settings } = await resolveSettings({
        options: {
          concurrentTasks: 1,
          maxRequests: 1,
          resultTtl: 1,
          logLevel: "debug",
          config: path,
        },
        env: { PQ_MAX_REQUESTS: "3", PQ_RESULT_TTL: "3" },
        args: ["--result-ttl", "4"],
      });
      assert.equal(settings.gracePeriod, 30, "default kept");
      assert.equal(settings.workers, 5, "config module over defaults");
      assert.equal(settings.concurrentTasks, 1, "options over config module");
      assert.equal(settings.logLevel, "debug", "options over config module");
      assert.equal(settings.maxRequests, 3, "environment over options");
      assert.equal(settings.resultTtl, 4, "command line over environment");
      assert.equal(settings.config, path);
    },
  );
});

Deno.test("config module path: --config over PQ_CONFIG over the config option", async () => {
  await withConfig(
    "export const maxRedeliveries = 1;",
    (fromOptions) =>
      withConfig(
        "export const maxRedeliveries = 2;",
        (fromEnv) =>
          withConfig("export const maxRedeliveries = 3;", async (fromCli) => {
            const options = { config: fromOptions };
            const env = { PQ_CONFIG: fromEnv };
            const args = ["--config", fromCli];
            const all = await resolveSettings({ options, env, args });
            assert.equal(all.settings.maxRedeliveries, 3);
            assert.equal(all.settings.config, fromCli);
            const noCli = await resolveSettings({ options, env });
            assert.equal(noCli.settings.maxRedeliveries, 2);
            assert.equal(noCli.settings.config, fromEnv);
            const onlyOptions = await resolveSettings({ options });
            assert.equal(onlyOptions.settings.maxRedeliveries, 1);
            assert.equal(onlyOptions.settings.config, fromOptions);
          }),
      ),
  );
});

Deno.test("config module reads the default export and named exports", async () => {
  await withConfig(
    `export default { workers: 2, taskPaths: ["./jobs/"], dataStore: "sqlite::memory:" };
     export const workers = 3;
     export const schedulePeriodic = true;`,
    async (path) => {
      assert.deepEqual(await loadConfigModule(path), {
        workers: 3,
        taskPaths: ["./jobs/"],
        dataStore: "sqlite::memory:",
        schedulePeriodic: true,
      });
    },
  );
});

Deno.test("config module rejects unknown names, naming them and the module", async () => {
  await withConfig("export default { wrokers: 2 };", async (path) => {
    await assertRejectsSettingsError(
      () => loadConfigModule(path),
      "'wrokers'",
      `config module ${path}`,
      "did you mean 'workers'?",
    );
  });
  await withConfig("export const taskPath = ['a'];", async (path) => {
    await assertRejectsSettingsError(
      () => loadConfigModule(path),
      "'taskPath'",
      "did you mean 'taskPaths'?",
    );
  });
});

Deno.test("config module values must already have the right type", async () => {
  await withConfig(`export default { workers: "2" };`, async (path) => {
    await assertRejectsSettingsError(
      () => loadConfigModule(path),
      "'workers'",
      `config module ${path}`,
      "a whole number >= 0",
      '"2"',
    );
  });
  await withConfig(`export default { taskPaths: "a,b" };`, async (path) => {
    await assertRejectsSettingsError(
      () => loadConfigModule(path),
      "'taskPaths'",
      '"a,b"',
    );
  });
  await withConfig(`export default ["workers"];`, async (path) => {
    await assertRejectsSettingsError(
      () => loadConfigModule(path),
      "default export",
      path,
    );
  });
});

Deno.test("config module that cannot be imported is an error naming its path", async () => {
  const missing = "./no/such/pq.config.ts";
  const error = await loadConfigModule(missing).then(
    () => undefined,
    (error) => error,
  );
  assert.ok(error instanceof Error);
  assert.ok(!(error instanceof SettingsError));
  assert.match(
    error.message,
    /Cannot load config module '.\/no\/such\/pq\.config\.ts'/,
  );
  assert.ok(error.cause);
  await withConfig("export default { workers: ", async (path) => {
    await assert.rejects(() => loadConfigModule(path), {
      message: new RegExp(`Cannot load config module '${path}'`),
    });
  });
});

Deno.test("with --help a broken config module does not hide the help", async () => {
  const resolved = await resolveSettings({
    args: ["--help", "--config", "./no/such/module.ts"],
  });
  assert.equal(resolved.help, true);
  assert.equal(resolved.settings.workers, 1);
});

Deno.test("negative workers are rejected from every source, naming setting and value", async () => {
  assertSettingsError(
    () => parseCliArgs(["--workers=-1"]),
    "Invalid setting 'workers' (command line --workers): expected a whole number >= 0, got \"-1\"",
  );
  assertSettingsError(
    () => settingsFromEnv({ PQ_WORKERS: "-1" }),
    "Invalid setting 'workers' (environment PQ_WORKERS)",
    '"-1"',
  );
  assertSettingsError(
    () => validateSettings({ workers: -1 }, "constructor options"),
    "Invalid setting 'workers' (constructor options)",
    "got -1",
  );
  await assertRejectsSettingsError(
    () => resolveSettings({ options: { workers: -1 } }),
    "'workers'",
    "constructor options",
  );
});

Deno.test("non-numeric and fractional numbers are rejected", () => {
  for (const text of ["abc", "", "2x", "0x10", "Infinity", "1.5"]) {
    assertSettingsError(
      () => settingsFromEnv({ PQ_WORKERS: text }),
      "'workers'",
      JSON.stringify(text),
    );
  }
  assertSettingsError(
    () => parseCliArgs(["--task-pool-timeout", "soon"]),
    "'taskPoolTimeout' (command line --task-pool-timeout)",
    "a number > 0",
    '"soon"',
  );
  assertSettingsError(
    () => parseCliArgs(["--task-pool-timeout", "0"]),
    "a number > 0",
    '"0"',
  );
  assertSettingsError(
    () => parseCliArgs(["--concurrent-tasks", "0"]),
    "'concurrentTasks'",
    "a whole number >= 1",
  );
  assertSettingsError(
    () => settingsFromEnv({ PQ_RESULT_TTL: "-0.5" }),
    "'resultTtl'",
    "a number >= 0",
  );
});

Deno.test("storeWait takes seconds >= 0, or forever (the default) from every source", () => {
  assert.equal(defaultSettings().storeWait, Infinity);
  assert.deepEqual(parseCliArgs(["--store-wait", "0"]).settings, {
    storeWait: 0,
  });
  assert.deepEqual(parseCliArgs(["--store-wait", "2.5"]).settings, {
    storeWait: 2.5,
  });
  assert.deepEqual(parseCliArgs(["--store-wait", "forever"]).settings, {
    storeWait: Infinity,
  });
  assert.deepEqual(settingsFromEnv({ PQ_STORE_WAIT: " Forever " }), {
    storeWait: Infinity,
  });
  assert.deepEqual(
    validateSettings({ storeWait: Infinity }, "constructor options"),
    { storeWait: Infinity },
  );
  for (const text of ["-1", "soon", "Infinity", ""]) {
    assertSettingsError(
      () => parseCliArgs([`--store-wait=${text}`]),
      "'storeWait' (command line --store-wait)",
      "a number >= 0 or forever",
      JSON.stringify(text),
    );
  }
  assertSettingsError(
    () => validateSettings({ storeWait: "forever" }, "constructor options"),
    "'storeWait' (constructor options)",
    "a number >= 0 or forever",
  );
  assertSettingsError(
    () => validateSettings({ storeWait: -Infinity }, "constructor options"),
    "'storeWait'",
  );
  assert.match(
    helpText(),
    /--store-wait <seconds>\n(.*\n)+ +env PQ_STORE_WAIT; default: forever/,
  );
});

Deno.test("numbers as strings are accepted only from the command line and environment", () => {
  assertSettingsError(
    () => validateSettings({ workers: "2" }, "constructor options"),
    "'workers' (constructor options)",
    '"2"',
  );
  assertSettingsError(
    () => validateSettings({ schedulePeriodic: "true" }, "constructor options"),
    "'schedulePeriodic'",
  );
  assertSettingsError(
    () => validateSettings({ workers: NaN }, "constructor options"),
    "'workers'",
  );
  assert.deepEqual(
    validateSettings(
      { workers: 2, taskPaths: ["a"], gracePeriod: undefined },
      "constructor options",
    ),
    { workers: 2, taskPaths: ["a"] },
  );
});

Deno.test("a value outside an enum is rejected with the accepted values", () => {
  assertSettingsError(
    () => parseCliArgs(["--log-level", "loud"]),
    "'logLevel' (command line --log-level)",
    "one of trace, debug, info, warning, error, fatal",
    '"loud"',
  );
  assertSettingsError(
    () => settingsFromEnv({ PQ_MESSAGE_SERIALIZER: "xml" }),
    "'messageSerializer' (environment PQ_MESSAGE_SERIALIZER)",
    "one of json, msgpack",
    '"xml"',
  );
});

Deno.test("a store URL with another scheme is rejected, naming the accepted ones", () => {
  assertSettingsError(
    () => parseCliArgs(["--data-store", "postgres://db/pq"]),
    "'dataStore' (command line --data-store)",
    "sqlite:, redis://, rediss:// or redis+sentinel://",
    '"postgres://db/pq"',
  );
  assertSettingsError(
    () => settingsFromEnv({ PQ_MESSAGE_BROKER: "amqp://broker" }),
    "'messageBroker' (environment PQ_MESSAGE_BROKER)",
    '"amqp://broker"',
  );
  assertSettingsError(
    () => validateSettings({ dataStore: "sqlite:" }, "constructor options"),
    "'dataStore'",
  );
  assert.deepEqual(
    validateSettings({ messageBroker: "" }, "constructor options"),
    { messageBroker: "" },
  );
});

Deno.test("empty queue names are rejected", () => {
  assertSettingsError(
    () => validateSettings({ defaultTaskQueue: "" }, "constructor options"),
    "'defaultTaskQueue'",
    "a non-empty queue name",
  );
  assertSettingsError(
    () => validateSettings({ taskQueues: ["a", ""] }, "constructor options"),
    "'taskQueues'",
    "a list of non-empty strings",
  );
});

Deno.test("an unknown flag is rejected by name, with the closest flag", () => {
  assertSettingsError(() => parseCliArgs(["--foo"]), "Unknown option '--foo'");
  assertSettingsError(
    () => parseCliArgs(["--wokers", "2"]),
    "Unknown option '--wokers' (did you mean '--workers'?)",
  );
});

Deno.test("a flag without its value is a clear error", () => {
  assertSettingsError(
    () => parseCliArgs(["--workers"]),
    "Option '--workers' (setting 'workers') needs a value",
  );
  assertSettingsError(
    () => parseCliArgs(["--workers", "-1"]),
    "'workers' (command line --workers): expected a whole number >= 0",
  );
  assertSettingsError(
    () => parseCliArgs(["--schedule-periodic=yes"]),
    "'--schedule-periodic'",
    "takes no value",
  );
});

Deno.test("an unknown option key is rejected, naming it and the source", () => {
  assertSettingsError(
    () => validateSettings({ wrokers: 2 }, "constructor options"),
    "Unknown setting 'wrokers' in constructor options (did you mean 'workers'?)",
  );
  assertSettingsError(
    () => validateSettings({ "task-paths": ["a"] }, "constructor options"),
    "did you mean 'taskPaths'?",
  );
  assertSettingsError(
    () => validateSettings({ zzzzzzzz: 1 }, "constructor options"),
    "Unknown setting 'zzzzzzzz' in constructor options; known settings: workers, concurrentTasks,",
  );
});

Deno.test("help text lists every flag, short flag and variable", () => {
  const text = helpText("pq");
  assert.match(text, /^Usage: pq /);
  for (const flag of [...EXPECTED_FLAGS, "--help", "-h", "-w", "-c"]) {
    assert.ok(text.includes(flag), `help lacks ${flag}`);
  }
  assert.ok(text.includes("--no-schedule-periodic"));
  // Help is wrapped to 80 columns: compared with its words joined.
  const words = text.replace(/\s+/g, " ");
  for (const s of SETTINGS) {
    assert.ok(text.includes(s.env), `help lacks ${s.env}`);
    assert.ok(words.includes(s.help), `help lacks the help of ${s.name}`);
  }
  for (const line of text.split("\n")) {
    assert.ok(line.length <= 80, `a help line longer than 80: ${line}`);
  }
  assert.ok(text.includes("2 × CPU cores"));
  assert.match(helpText("mypq"), /^Usage: mypq /);
});

Deno.test("the Markdown table has one row per setting", () => {
  const lines = settingsMarkdownTable().split("\n");
  assert.equal(lines.length, SETTINGS.length + 2);
  assert.match(
    lines[0],
    /^\| Setting \| Flag \| Environment \| Default \| Meaning \|$/,
  );
  for (const [i, s] of SETTINGS.entries()) {
    const row = lines[i + 2];
    assert.ok(row.startsWith(`| \`${s.name}\` | \`--${s.flag}\``), row);
    assert.ok(row.includes(`\`${s.env}\``), row);
  }
  assert.ok(!settingsMarkdownTable().includes("<"), "no raw HTML");
});
