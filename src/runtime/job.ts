/**
 * Jobs: what a task runs. Define one with `job()` (`job_function.ts`) or by extending
 * {@linkcode Job}.
 * @module
 */
import { describeValue } from "../model/errors.ts";
import type { ConcurrencyCode } from "../model/execution_mode.ts";
import { checkKnownKeys } from "../model/_did_you_mean.ts";
import {
  type JobOptions,
  type KwargsSchema,
  slugifyJobName,
} from "../model/job_options.ts";
import type { JobPermissions } from "../model/job_permissions.ts";
import { type QueueOptions, unsendableError } from "../model/queue_options.ts";
import type { RateLimit } from "../model/rate_limit.ts";
import type { RetryDelay } from "../model/retry_delay.ts";
import {
  type Dict,
  progressProblem,
  type Task,
  type TaskProgress,
} from "../model/task.ts";
import type { TaskStep } from "../model/task_step.ts";
import { StepRun } from "./durable_steps.ts";
import { runShell, type ShellOptions } from "./shell.ts";

/**
 * A job's logger: a LogTape logger (category `["pq", "job", <name>]`), seen
 * through the methods jobs use. Messages take `{placeholders}` filled from
 * `properties`.
 */
export interface JobLogger {
  /** Logs at debug level. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Logs at info level. */
  info(message: string, properties?: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** Logs at error level. */
  error(message: string, properties?: Record<string, unknown>): void;
}

/** The services a job gets from the process that runs it. */
export interface JobRuntime {
  /** The producer API of this process (`backend.tasks.queue(...)`). */
  backend: JobBackend;
  /** The task being run. */
  task: Task;
  /** Fires when the task times out or is revoked. */
  signal: AbortSignal;
  /** The job's logger. */
  logger: JobLogger;
  /**
   * Takes each progress the job reports (`ctx.progress`), already checked;
   * it rate-limits the writes and never throws. Absent: progress is
   * checked, then dropped.
   */
  progress?: (progress: TaskProgress) => void;
  /**
   * Stores a finished step (`ctx.step`), already checked, with the task;
   * rejects when it was not stored (the lease lost, the store away).
   * Absent: steps run, and are kept by nothing.
   */
  step?: (step: TaskStep) => Promise<void>;
}

/** What a job can reach of the process that runs it. */
export interface JobBackend {
  /** The host name, lower-case (the local queue's name). */
  readonly nodeName: string;
  /** Queues a task (see `Tasks.queue`). */
  queueTask(
    jobName: string,
    kwargs: Dict | undefined,
    options: QueueOptions & { fromTask: string },
  ): PromiseLike<Task>;
  /** What this process is doing: `{ tasks: { queues, ... } }`. */
  info(): Dict;
  /** Takes a named lock in the store (see `Job.lock`). */
  lock(name: string, options?: LockOptions): Promise<JobLock>;
}

/** Options of `Job.lock`. */
export interface LockOptions {
  /**
   * Seconds the lock lasts unless renewed (default 30). The holder renews
   * it while it holds it, so this is how long a dead holder blocks others.
   */
  timeout?: number;
  /** Seconds to wait for the lock (default: as long as the task runs). */
  wait?: number;
  /** Stops waiting when it aborts (the task's signal by default). */
  signal?: AbortSignal;
}

/** A lock held in the store; release it, or let `await using` do it. */
export interface JobLock extends AsyncDisposable {
  /** The lock's name. */
  readonly name: string;
  /** Frees the lock (and stops renewing it). Idempotent. */
  release(): Promise<void>;
}

/**
 * A job: extend it and implement `run(kwargs)`. Static fields are the job's
 * options; inside `run`, `this` is the task's context (`task`, `signal`,
 * `logger`, `queue()`...). Meta params of a task (`maxRetries`...) override
 * the static options for that task.
 *
 * @example
 * ```ts
 * import { Job } from "@pq/queue";
 * export class AsyncSleep extends Job {
 *   static override timeout = 60;
 *   override async run({ lag = 1 }: { lag?: number }) {
 *     await new Promise((ok) => setTimeout(ok, lag * 1000));
 *     return lag;
 *   }
 * }
 * ```
 */
export class Job {
  /** Set `static abstract = true` on a base class that must not register. */
  static abstract?: boolean;
  /** The job name; derived from the class name when absent. */
  static jobName?: string;
  /** How the job runs (see {@linkcode JobOptionFields}). */
  static concurrency?: ConcurrencyCode;
  /** Default task timeout in seconds. */
  static timeout?: number;
  /** Runs in all (attempts) for a task that does not succeed. */
  static maxRetries?: number;
  /** Seconds before a retry runs, or a backoff. */
  static retryDelay?: RetryDelay;
  /** Most tasks of this job running at once in the whole cluster. */
  static maxConcurrency?: number;
  /** The priority of its tasks queued without one. */
  static priority?: number;
  /** At most `tasks` starts in any `per` seconds, in the whole cluster. */
  static rateLimit?: RateLimit;
  /** The rate limit key of a task, from its kwargs. */
  static rateLimitKey?: (kwargs: Dict) => string;
  /** The group of a task in its queue, from its kwargs (fair queues). */
  static group?: (kwargs: Dict) => string;
  /** The most tasks of one queue and group running at once. */
  static groupConcurrency?: number;
  /** The queue of tasks queued without one. */
  static defaultQueue?: string;
  /** What the job does (shown by `jobList`). */
  static doc?: string;
  /** Seconds between runs of a periodic job. */
  static runEvery?: number;
  /** A time (Unix seconds) the periodic runs are aligned to. */
  static anchor?: number;
  /** A cron expression of when the job runs, in UTC. */
  static cron?: string;
  /** Checks the kwargs before the job runs: a bad one fails the task. */
  static schema?: KwargsSchema;
  /** The Deno permissions of a CPUBOUND job's subprocess. */
  static permissions?: JobPermissions;

  /** The producer API of the process that runs the task. */
  readonly backend: JobBackend;
  /** The task being run. */
  readonly task: Task;
  /** Fires when the task times out or is revoked: pass it to I/O calls. */
  readonly signal: AbortSignal;
  /** The job's logger. */
  readonly logger: JobLogger;
  readonly #report?: (progress: TaskProgress) => void;
  /** The durable steps of this run. */
  readonly #steps: StepRun;

  /** Made by the worker that runs a task; jobs do not make their own. */
  constructor(runtime: JobRuntime) {
    this.backend = runtime.backend;
    this.task = runtime.task;
    this.signal = runtime.signal;
    this.logger = runtime.logger;
    this.#report = runtime.progress;
    this.#steps = new StepRun(runtime.task, runtime.step);
  }

  /** The job's work. Its return value is the task's result. */
  run(_kwargs: Dict): unknown {
    throw new Error(`Job ${this.name} does not implement run()`);
  }

  /** The job name. */
  get name(): string {
    return jobNameOf(this.constructor as JobClass);
  }

  /** Retries of this task (meta params override the job's option). */
  get maxRetries(): number | undefined {
    return this.#option("maxRetries") as number | undefined;
  }

  /** Seconds before a retry of this task runs, or its backoff. */
  get retryDelay(): RetryDelay {
    return (this.#option("retryDelay") as RetryDelay | undefined) ?? 0;
  }

  /** The concurrency limit of this task's job. */
  get maxConcurrency(): number | undefined {
    return this.#option("maxConcurrency") as number | undefined;
  }

  /** This task's priority (0 when it has none). */
  get priority(): number {
    return (this.#option("priority") as number | undefined) ?? 0;
  }

  /** This task's timeout in seconds. */
  get timeout(): number | undefined {
    return this.task.timeout ?? undefined;
  }

  /** The job's default queue. */
  get defaultQueue(): string | undefined {
    return this.#option("defaultQueue") as string | undefined;
  }

  /** `fetch`, stopped when the task times out or is revoked. */
  get http(): typeof fetch {
    return (input, init) =>
      fetch(input, {
        ...init,
        signal: init?.signal
          ? AbortSignal.any([init.signal, this.signal])
          : this.signal,
      });
  }

  /**
   * Runs `command` through the shell (`sh -c`) and resolves with its
   * stdout; a non-zero exit rejects with a `ShellError` carrying the exit
   * code and stderr. `interactive` also logs each output line as it comes.
   * The command is killed when the task times out or is revoked.
   *
   * @example
   * ```ts
   * import { job } from "@pq/queue";
   * export const words = job(function words(ctx, { text }: { text: string }) {
   *   return ctx.shell("wc -w", { input: text });
   * });
   * ```
   */
  shell(command: string, options: ShellOptions = {}): Promise<string> {
    return runShell(command, {
      ...options,
      signal: this.signal,
      logger: this.logger,
    });
  }

  /**
   * Says how far the task is: `value` from 0 (nothing done) to 1 (all
   * done), with a short message (at most 200 characters) or `{ message,
   * data }` (data: JSON of at most 1 KiB). The task's record then carries it
   * (`task.progress`, `pq status`) and a `progress` event (channel `task`)
   * announces it.
   *
   * Call it as often as you like: the writes are rate-limited to one per
   * 250 ms per task, the latest value always winning (it is written at the
   * end of the interval). The task's final record keeps the last value
   * said. It never waits for the store and never fails because of it;
   * after the task ended it does nothing.
   *
   * @throws {TypeError} for a value outside 0..1 (or not a number), a
   * message too long, or data that is not small JSON, naming it.
   *
   * @example
   * ```ts
   * import { job } from "@pq/queue";
   * export const pages = job(
   *   async function pages(ctx, { n = 10 }: { n?: number }) {
   *     for (let page = 1; page <= n; page++) {
   *       await new Promise((ok) => setTimeout(ok, 10)); // one page of work
   *       ctx.progress(page / n, `page ${page} of ${n}`);
   *     }
   *     ctx.progress(1, { message: "done", data: { pages: n } });
   *     return n;
   *   },
   * );
   * ```
   */
  progress(
    value: number,
    detail?: string | { message?: string; data?: unknown },
  ): void {
    const what = `Cannot report progress of ${this.task}`;
    let message: unknown, data: unknown;
    if (typeof detail === "string") message = detail;
    else if (typeof detail === "object" && detail !== null) {
      checkKnownKeys(detail, ["message", "data"], "ctx.progress");
      ({ message, data } = detail);
    } else if (detail !== undefined) {
      throw new TypeError(
        `${what} as its detail must be a message or { message?, data? }: got ${
          describeValue(detail)
        }`,
      );
    }
    const progress = { value, message, data, time: Date.now() / 1000 };
    const problem = progressProblem(progress);
    if (problem) {
      const field = /^'(\w+)'/.exec(problem)?.[1] as keyof typeof progress;
      const given = progress[field];
      const text = typeof given === "number"
        ? String(given) // NaN and Infinity, which JSON would hide
        : describeValue(given);
      throw new TypeError(
        `${what} as ${problem}: got ${
          text.length > 60 ? text.slice(0, 57) + "..." : text
        }`,
      );
    }
    const checked: TaskProgress = { value, time: progress.time };
    if (message !== undefined) checked.message = message as string;
    // A copy, as JSON: the job may change its object after the call.
    if (data !== undefined) checked.data = JSON.parse(JSON.stringify(data));
    this.#report?.(checked);
  }

  /**
   * Runs `fn` once for this task, as a durable step named `name`: its
   * result is stored with the task when it returns, and when the task runs
   * again (a retry, or after its worker died) this call returns the stored
   * result without calling `fn`, so the job goes on from its first
   * unfinished step. A step whose `fn` throws stores nothing: the error
   * goes on, and the task fails or retries as usual.
   *
   * The result must be data a codec carries unchanged (JSON's values);
   * `undefined` is stored as no result. Names are unique within a run.
   *
   * @throws {TypeError} for a bad name, a name already called in this run,
   * or a result that cannot be stored, naming the step.
   * @throws {StepNotStored} when the step could not be stored (the task's
   * lease was lost: it runs elsewhere now; or the store is away): the job
   * must not go on.
   *
   * @example
   * ```ts
   * import { job } from "@pq/queue";
   * export const order = job(
   *   async function order(ctx, { amount }: { amount: number }) {
   *     const charge = await ctx.step("charge", () => ({ id: "ch_1", amount }));
   *     await ctx.step("email", () => {
   *       // send the receipt: once, even when the task runs again
   *     });
   *     return charge.id;
   *   },
   * );
   * ```
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    return this.#steps.run(name, fn);
  }

  /**
   * Takes a lock in the store, named after the job unless `name` is given,
   * waiting while another task holds it. It expires `timeout` seconds after
   * its holder stops renewing it, so a dead holder cannot block others.
   *
   * @example
   * ```ts
   * import { job } from "@pq/queue";
   * export const report = job(async function report(ctx) {
   *   await using _lock = await ctx.lock();
   *   return "one report at a time";
   * });
   * ```
   */
  lock(name?: string, options: LockOptions = {}): Promise<JobLock> {
    return this.backend.lock(name ?? this.name, {
      ...options,
      signal: options.signal ?? this.signal,
    });
  }

  /**
   * Queues another task from this one (its `fromTask` is this task's id).
   * Resolves when it is done, or when queued with `callback: false`.
   */
  queue(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): PromiseLike<Task> {
    // Checked here too: from a subprocess the call crosses to the worker as
    // JSON, which would change such a value before the worker checks it.
    const unsendable = unsendableError(kwargs, options?.metaParams, {
      job: jobName,
    });
    if (unsendable) return Promise.reject(unsendable);
    return this.backend.queueTask(jobName, kwargs, {
      ...options,
      fromTask: this.task.id,
    });
  }

  /** Queues another task on this host's local queue. */
  queueLocal(
    jobName: string,
    kwargs?: Dict,
    options: QueueOptions = {},
  ): PromiseLike<Task> {
    return this.queue(jobName, kwargs, {
      ...options,
      queue: this.backend.nodeName,
    });
  }

  #option(key: keyof JobOptions): unknown {
    const fromMeta = this.task.meta[key];
    return fromMeta ?? (this.constructor as JobClass)[key];
  }
}

/** A class that extends {@linkcode Job}. */
export type JobClass = typeof Job;

/** The registered name of a job class. */
export function jobNameOf(cls: JobClass): string {
  return slugifyJobName(
    Object.hasOwn(cls, "jobName") && cls.jobName ? cls.jobName : cls.name,
  );
}

/** True for a class that extends Job and is not marked abstract. */
export function isRegistrableJob(value: unknown): value is JobClass {
  return typeof value === "function" && value !== Job &&
    value.prototype instanceof Job &&
    !(Object.hasOwn(value, "abstract") && (value as JobClass).abstract);
}
