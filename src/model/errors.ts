/**
 * Named errors of pq.
 * @module
 */
import { maskUrl } from "./_secrets.ts";
import { TaskStatus, type TaskStatusCode } from "./status.ts";

/**
 * Throw it from a job to fail the task cleanly: the task's `result` is the
 * message, its status is `status` (FAILURE by default) and no stack trace is
 * stored.
 *
 * @example
 * ```ts
 * import { job, TaskError } from "@pq/queue";
 * export const check = job(function check(_ctx, { n = 0 }: { n?: number }) {
 *   if (n < 0) throw new TaskError(`n must be >= 0: got ${n}`);
 *   return n;
 * });
 * ```
 */
export class TaskError extends Error {
  /** The status the task ends with. */
  readonly status: TaskStatusCode;
  /** Makes a task error with a message and the final status. */
  constructor(
    message: string,
    options?: ErrorOptions & { status?: TaskStatusCode },
  ) {
    super(message, options);
    this.name = "TaskError";
    this.status = options?.status ?? TaskStatus.FAILURE;
  }
}

/**
 * The job name given to `tasks.queue` is not registered.
 *
 * @example
 * ```ts
 * import { TaskNotAvailable } from "@pq/queue";
 * const error = new TaskNotAvailable("nosuchjob");
 * console.log(error.message); // "Task nosuchjob is not registered"
 * ```
 */
export class TaskNotAvailable extends Error {
  /** The job name that is not registered. */
  readonly jobName: string;
  /**
   * Makes the error for a job name; `hint` (such as ` (did you mean
   * 'addition'?)`) is added to the message.
   */
  constructor(jobName: string, options?: ErrorOptions & { hint?: string }) {
    super(`Task ${jobName} is not registered${options?.hint ?? ""}`, options);
    this.name = "TaskNotAvailable";
    this.jobName = jobName;
  }
}

/**
 * The hint of a `TaskNotAvailable` raised where no job code was loaded: the
 * command line without `--task-paths`, a producer without `taskPaths`.
 */
export const NO_JOB_CODE_HINT =
  " (this process loaded no job code: pass --task-paths or the taskPaths setting, or start a server that has the job)";

/**
 * A task ran past its timeout; the task ends REVOKED.
 *
 * @example
 * ```ts
 * import { TaskTimeout } from "@pq/queue";
 * const error = new TaskTimeout("task.sleep<abc> timed out after 3 s");
 * ```
 */
export class TaskTimeout extends Error {
  /** Makes the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TaskTimeout";
  }
}

/**
 * A task was revoked while it ran (by id, or its lease was lost, or its
 * worker is shutting down): the reason of the task's `signal`; the task
 * ends REVOKED.
 *
 * @example
 * ```ts
 * import { job, TaskRevoked } from "@pq/queue";
 * export const careful = job(async function careful(ctx) {
 *   try {
 *     await ctx.http("http://127.0.0.1:8000/slow");
 *   } catch (error) {
 *     if (ctx.signal.reason instanceof TaskRevoked) return "stopped";
 *     throw error;
 *   }
 * });
 * ```
 */
export class TaskRevoked extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = "TaskRevoked";
  }
}

/**
 * The store (SQLite file or Redis server) cannot be reached or used.
 *
 * @example
 * ```ts
 * import { StoreConnectionError } from "@pq/queue";
 * const error = new StoreConnectionError("Cannot open sqlite:/nope/x.db");
 * ```
 */
export class StoreConnectionError extends Error {
  /** Makes the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreConnectionError";
  }
}

/**
 * A shell command run by `ctx.shell` exited with a non-zero status or was
 * killed. The message says how it ended (`Command exited with code 7: ...`,
 * `Command was killed by SIGKILL (exit code 137): ...`) and the last lines
 * of its stderr (of its stdout when stderr is empty).
 *
 * @example
 * ```ts
 * import { job, ShellError } from "@pq/queue";
 * export const listing = job(async function listing(ctx) {
 *   try {
 *     return await ctx.shell("ls /nowhere");
 *   } catch (error) {
 *     if (error instanceof ShellError) return `exit ${error.code}`;
 *     throw error;
 *   }
 * });
 * ```
 */
export class ShellError extends Error {
  /** The exit code of the command (128 + n when killed by signal n). */
  readonly code: number;
  /** The signal that killed the shell, or null when it exited. */
  readonly signal: Deno.Signal | null;
  /** What the command wrote on stdout. */
  readonly stdout: string;
  /** What the command wrote on stderr. */
  readonly stderr: string;
  /** Makes the error from the command's exit code and output. */
  constructor(
    message: string,
    output: {
      code: number;
      signal?: Deno.Signal | null;
      stdout: string;
      stderr: string;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ShellError";
    this.code = output.code;
    this.signal = output.signal ?? null;
    this.stdout = output.stdout;
    this.stderr = output.stderr;
  }
}

/**
 * A lock taken with `ctx.lock` could not be had in time, or was lost.
 *
 * @example
 * ```ts
 * import { LockError } from "@pq/queue";
 * const error = new LockError("Cannot take lock 'report': still held after 5 s");
 * ```
 */
export class LockError extends Error {
  /** Makes the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockError";
  }
}

/**
 * A setting has a bad value, or is unknown. The CLI exits with status 2.
 *
 * @example
 * ```ts
 * import { SettingsError } from "@pq/queue";
 * const error = new SettingsError("workers", "-1", "a whole number >= 0", {
 *   source: "command line --workers",
 * });
 * console.log(error.message);
 * // Invalid setting 'workers' (command line --workers): expected a whole number >= 0, got "-1"
 * ```
 */
export class SettingsError extends Error {
  /** The name of the setting. */
  readonly setting: string;
  /** Where the value came from (`command line --workers`...). */
  readonly source?: string;
  /**
   * Makes the error for a setting, the value given and what was expected.
   * `source` names where the value came from; `message` replaces the usual
   * "Invalid setting 'x' (source): expected ..., got ..." when that form
   * does not fit (an unknown option, a flag without its value).
   */
  constructor(
    setting: string,
    value: unknown,
    expected: string,
    options?: ErrorOptions & { source?: string; message?: string },
  ) {
    const from = options?.source ? ` (${options.source})` : "";
    super(
      options?.message ??
        `Invalid setting '${setting}'${from}: expected ${expected}, got ${
          describeValue(value)
        }`,
      options,
    );
    this.name = "SettingsError";
    this.setting = setting;
    this.source = options?.source;
  }
}

/**
 * Shows a value in an error message the way a user typed or wrote it, a
 * URL's password masked.
 */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(maskUrl(value));
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
