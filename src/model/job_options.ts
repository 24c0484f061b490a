/**
 * A job's options: what `job()` takes and a `Job` class's static fields
 * hold, and their check. Pure data: defining a job does no I/O.
 * @module
 */
import { describeValue } from "./errors.ts";
import { Concurrency, type ConcurrencyCode } from "./execution_mode.ts";
import { type JobPermissions, permissionsProblem } from "./job_permissions.ts";
import { cronError } from "./periodic.ts";
import { priorityProblem } from "./queue_options.ts";
import { type RateLimit, rateLimitProblem } from "./rate_limit.ts";
import { type RetryDelay, retryDelayProblem } from "./retry_delay.ts";
import type { Dict } from "./task.ts";

/**
 * A Standard Schema (zod, valibot, arktype...) that checks a job's kwargs.
 * See https://standardschema.dev.
 */
export interface KwargsSchema {
  /** The Standard Schema interface. */
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) =>
      | StandardResult
      | Promise<StandardResult>;
  };
}

/** The result of a Standard Schema validation. */
export type StandardResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
    readonly issues: ReadonlyArray<{
      readonly message: string;
      readonly path?: ReadonlyArray<
        PropertyKey | { readonly key: PropertyKey }
      >;
    }>;
  };

/**
 * The options of a job besides `name`, as `job()` takes them and as the
 * static fields of a `Job` class hold them.
 */
export interface JobOptionFields {
  /** How the job runs; ASYNC_IO when absent. */
  concurrency?: ConcurrencyCode;
  /** Default task timeout in seconds, counted from `timeQueued + delay`. */
  timeout?: number;
  /** Runs in all (attempts) for a task that does not succeed. */
  maxRetries?: number;
  /**
   * Seconds before a retry runs, or a backoff that grows with each attempt
   * (`{ type: "exponential", base: 1, max: 300, jitter: true }`).
   */
  retryDelay?: RetryDelay;
  /** Most tasks of this job running at once in the whole cluster. */
  maxConcurrency?: number;
  /**
   * The priority of its tasks queued without one: an integer from -1000 to
   * 1000, higher first (0 when absent).
   */
  priority?: number;
  /**
   * At most `tasks` starts in any `per` seconds, in the whole cluster (per
   * queue, and per `rateLimitKey` when the job has one). Tasks over it wait
   * in their queue, with their priority, for the next free slot.
   */
  rateLimit?: RateLimit;
  /**
   * The rate limit key of a task, from its kwargs: each key has a
   * `rateLimit` of its own (`(kwargs) => String(kwargs.customer)`). A task
   * queued with a `rateLimitKey` option uses that instead.
   */
  rateLimitKey?: (kwargs: Dict) => string;
  /**
   * The group of a task in its queue, from its kwargs (fair queues:
   * `(kwargs) => String(kwargs.tenant)`): workers take the tasks of a
   * queue's groups in turn. A task queued with a `group` option uses that
   * instead.
   */
  group?: (kwargs: Dict) => string;
  /** The most tasks of one queue and group running at once in the cluster. */
  groupConcurrency?: number;
  /** The queue of tasks queued without one. */
  defaultQueue?: string;
  /** What the job does (shown by `jobList`). */
  doc?: string;
  /** Seconds between runs of a periodic job. */
  runEvery?: number;
  /** A time (Unix seconds) the periodic runs are aligned to. */
  anchor?: number;
  /**
   * A cron expression (5 fields, or 6 with seconds first) of when the job
   * runs, in UTC: `"0 6 * * 1"` is Mondays at 06:00. A job has `runEvery`
   * or `cron`, not both.
   */
  cron?: string;
  /** Checks the kwargs before the job runs: a bad one fails the task. */
  schema?: KwargsSchema;
  /**
   * The Deno permissions of a CPUBOUND job's subprocess (default: what its
   * worker holds in full). Only for `Concurrency.CPUBOUND`.
   */
  permissions?: JobPermissions;
}

/** The name of one of a job's options besides `name`. */
export type JobOptionName =
  | "concurrency"
  | "timeout"
  | "maxRetries"
  | "retryDelay"
  | "maxConcurrency"
  | "priority"
  | "rateLimit"
  | "rateLimitKey"
  | "group"
  | "groupConcurrency"
  | "defaultQueue"
  | "doc"
  | "runEvery"
  | "anchor"
  | "cron"
  | "schema"
  | "permissions";

/**
 * Options of a job made by {@linkcode job}: its `name` (derived from the
 * function's name when absent), and the static fields of a {@linkcode Job}
 * class, with their meaning.
 *
 * @example
 * ```ts
 * import type { JobOptions } from "@pq/queue";
 * const options: JobOptions = { name: "report", timeout: 60, maxRetries: 3 };
 * ```
 */
export type JobOptions =
  & {
    /** The job name; derived from the function or class name when absent. */
    name?: string;
  }
  & Partial<JobOptionFields>;

/** Every key of {@linkcode JobOptions}: `job()` refuses any other. */
export const JOB_OPTION_KEYS: readonly string[] = [
  "name",
  ...Object.keys(
    {
      concurrency: true,
      timeout: true,
      maxRetries: true,
      retryDelay: true,
      maxConcurrency: true,
      priority: true,
      rateLimit: true,
      rateLimitKey: true,
      group: true,
      groupConcurrency: true,
      defaultQueue: true,
      doc: true,
      runEvery: true,
      anchor: true,
      cron: true,
      schema: true,
      permissions: true,
    } satisfies Record<JobOptionName, true>, // every name, and no other
  ),
];

/**
 * pulsar-queue's job name rule: lower-case, apostrophes dropped, every run of
 * characters outside `[-a-z0-9]` becomes one separator, separators are `.`
 * and none lead or trail. `RunPyCode` → `runpycode`, `read_text` →
 * `read.text`, `"bla foo"` → `bla.foo`.
 */
export function slugifyJobName(text: string): string {
  return text
    .toLowerCase()
    .replaceAll("'", "")
    .replace(/[^-a-z0-9]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    .replaceAll("-", ".");
}

/** Checks a job's options; throws a TypeError naming the bad one. */
export function validateJobOptions(name: string, options: JobOptions): void {
  const fail = (key: string, expected: string) => {
    throw new TypeError(
      `Invalid option '${key}' of job '${name}': expected ${expected}, got ${
        describeValue(options[key as keyof JobOptions])
      }`,
    );
  };
  if (!name) fail("name", "a name with a letter or digit");
  const positive = ["timeout", "runEvery"] as const;
  for (const key of positive) {
    const value = options[key];
    if (
      value !== undefined &&
      !(typeof value === "number" && Number.isFinite(value) && value > 0)
    ) fail(key, "a number of seconds > 0");
  }
  const retryDelay = options.retryDelay === undefined
    ? undefined
    : retryDelayProblem(options.retryDelay);
  if (retryDelay) {
    throw new TypeError(
      `Invalid option 'retryDelay' of job '${name}': expected ${retryDelay}`,
    );
  }
  if (options.priority !== undefined && priorityProblem(options.priority)) {
    fail("priority", priorityProblem(options.priority)!);
  }
  if (options.rateLimit !== undefined && rateLimitProblem(options.rateLimit)) {
    fail("rateLimit", rateLimitProblem(options.rateLimit)!);
  }
  if (options.rateLimitKey !== undefined) {
    if (typeof options.rateLimitKey !== "function") {
      fail("rateLimitKey", "a function from kwargs to a key");
    }
    if (options.rateLimit === undefined) {
      fail("rateLimitKey", "no rateLimitKey without a rateLimit");
    }
  }
  if (options.group !== undefined && typeof options.group !== "function") {
    fail("group", "a function from kwargs to a group name");
  }
  for (
    const key of ["maxRetries", "maxConcurrency", "groupConcurrency"] as const
  ) {
    const count = options[key];
    if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
      fail(key, "a whole number > 0");
    }
  }
  if (
    options.concurrency !== undefined &&
    !Object.values(Concurrency).includes(options.concurrency)
  ) fail("concurrency", "Concurrency.ASYNC_IO, THREAD_IO or CPUBOUND");
  if (options.permissions !== undefined) {
    if (options.concurrency !== Concurrency.CPUBOUND) {
      fail("permissions", "no permissions unless the job is CPUBOUND");
    }
    const problem = permissionsProblem(options.permissions);
    if (problem) fail("permissions", problem);
  }
  validatePeriodicOptions(name, options);
}

/** Checks `runEvery`, `anchor` and `cron` (the first is checked above). */
function validatePeriodicOptions(name: string, options: JobOptions): void {
  const { anchor, cron, runEvery } = options;
  if (anchor !== undefined) {
    if (!(typeof anchor === "number" && Number.isFinite(anchor))) {
      throw new TypeError(
        `Invalid option 'anchor' of job '${name}': expected a time in Unix seconds, got ${
          describeValue(anchor)
        }`,
      );
    }
    if (runEvery === undefined) {
      throw new TypeError(
        `Invalid option 'anchor' of job '${name}': it needs 'runEvery', got anchor ${anchor} without it`,
      );
    }
  }
  if (cron === undefined) return;
  const error = cronError(cron);
  if (error) {
    throw new TypeError(
      `Invalid option 'cron' of job '${name}': expected a cron expression, got ${
        describeValue(cron)
      } (${error})`,
    );
  }
  if (runEvery !== undefined) {
    throw new TypeError(
      `Invalid options of job '${name}': it has both 'runEvery' (${runEvery}) and 'cron' (${
        describeValue(cron)
      }); a periodic job has one of them`,
    );
  }
}
