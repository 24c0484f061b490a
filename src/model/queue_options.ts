/**
 * What `tasks.queue` takes besides the job name and kwargs, how it is checked
 * at the boundary, and the record of a new task it makes. Jobs queue tasks
 * with the same options (`ctx.queue`), so they belong to the model.
 * @module
 */
import { checkKnownKeys } from "./_did_you_mean.ts";
import { describeValue } from "./errors.ts";
import { unsendableProblem } from "./kwargs_check.ts";
import {
  checkMetaParams,
  PRIORITY_MAX,
  PRIORITY_MIN,
  priorityProblem,
} from "./meta_params.ts";
import { type RateLimit, rateLimitKeyProblem } from "./rate_limit.ts";
import { TaskStatus } from "./status.ts";
import {
  groupConcurrencyProblem,
  groupProblem,
  setGroup,
} from "./task_group.ts";
import {
  type Dict,
  isTaskId,
  newTaskId,
  TASK_ID_RULE,
  type TaskRecord,
} from "./task.ts";

/**
 * Options of `tasks.queue`. Durations are seconds.
 *
 * @example
 * ```ts
 * import type { QueueOptions } from "@pq/queue";
 * const later: QueueOptions = { delay: 60, callback: false };
 * ```
 */
export interface QueueOptions {
  /**
   * True (default): the future resolves when the task is done. False: it
   * resolves once the task is queued, and `task.doneCallback` when done.
   */
  callback?: boolean;
  /** Seconds to wait before the task may run. */
  delay?: number;
  /**
   * The queue: a name; true (default) for the job's `defaultQueue` or the
   * `defaultTaskQueue` setting; false to run it in this process.
   */
  queue?: string | boolean;
  /** Seconds, counted from when the task is due, after which it is revoked. */
  timeout?: number;
  /**
   * Per-task job options, checked by their rules (see `meta_params.ts`):
   * `maxRetries`, `retryDelay`, `maxConcurrency`, `priority`, `rateLimit`,
   * `rateLimitKey`; and free keys, stored as they are, unless within 2 edits
   * of one of those (`maxRetires` is refused). Values are JSON, as kwargs.
   */
  metaParams?: Dict;
  /**
   * The task's priority: an integer from {@linkcode PRIORITY_MIN} to
   * {@linkcode PRIORITY_MAX}, higher first, tasks of one priority first in
   * first out; the job's `priority` when absent, else 0. Kept in
   * `meta.priority`, so a retry, a redelivery or a released task keeps it.
   */
  priority?: number;
  /**
   * The task's id, instead of a new one: 1 to 128 characters of
   * `[A-Za-z0-9_.:-]` (not `.` or `..`). While a task of this id is stored
   * (queued, running, or finished and kept `resultTtl` seconds), queueing
   * one again queues nothing: the future follows the task that is there,
   * and its `queued` says so (`{ duplicate: true, reason: "id" }`). A task
   * of another job holding the id is not followed: the call rejects with a
   * TypeError naming both jobs.
   */
  id?: string;
  /**
   * Drops repeats: the first task queued with `key` holds it for `ttl`
   * seconds in its queue (and no longer than that task is stored); a task
   * queued meanwhile with the same key in the same queue is not queued:
   * its future follows the task holding the key, and its `queued` says so
   * (`{ duplicate: true, reason: "dedupe", id }`).
   */
  dedupe?: DedupeOptions;
  /**
   * The task's rate limit key, instead of the one its job's `rateLimitKey`
   * function gives: tasks of one key share the job's `rateLimit`. Only for
   * a job with a `rateLimit`.
   */
  rateLimitKey?: string;
  /**
   * The task's group in its queue (fair queues): workers take the tasks of
   * a queue's groups in turn, one a group. 1 to 200 characters; instead of
   * the one its job's `group` function gives. Kept in `meta.group`.
   */
  group?: string;
  /**
   * The most tasks of the task's queue and group running at once in the
   * whole cluster (with `group`, or a job with a `group` function).
   */
  groupConcurrency?: number;
}

/**
 * A key that drops repeated tasks for a while (`QueueOptions.dedupe`).
 *
 * @example
 * ```ts
 * import type { QueueOptions } from "@pq/queue";
 * // One report per customer a minute, however often it is asked for.
 * const once: QueueOptions = { dedupe: { key: "report:42", ttl: 60 } };
 * ```
 */
export interface DedupeOptions {
  /** The key: 1 to {@linkcode DEDUPE_KEY_MAX} characters. */
  key: string;
  /** Seconds the first task holds it (> 0). */
  ttl: number;
}

/** The most characters of a dedupe key. */
export const DEDUPE_KEY_MAX = 256;

export { PRIORITY_MAX, PRIORITY_MIN, priorityProblem };

/**
 * A task's priority: its `meta.priority` when it is a valid one, else 0 (a
 * record written by hand with a bad one runs as a task without priority).
 */
export function taskPriority(task: TaskRecord): number {
  const priority = task.meta.priority;
  if (priority === undefined) return 0;
  return priorityProblem(priority) ? 0 : priority as number;
}

/** Every key of {@linkcode QueueOptions}: `tasks.queue` refuses any other. */
export const QUEUE_OPTION_KEYS = [
  "callback",
  "delay",
  "queue",
  "timeout",
  "metaParams",
  "priority",
  "id",
  "dedupe",
  "rateLimitKey",
  "group",
  "groupConcurrency",
] as const satisfies readonly (keyof QueueOptions)[];

/**
 * Refuses keys that are not queue options (naming the close one), `callback`
 * too unless `withCallback`; `where` names the caller in the message.
 */
export function checkQueueOptionKeys(
  options: unknown,
  where: string,
  withCallback = true,
): void {
  if (typeof options !== "object" || options === null) return;
  checkKnownKeys(
    options as Dict,
    withCallback
      ? QUEUE_OPTION_KEYS
      : QUEUE_OPTION_KEYS.filter((key) => key !== "callback"),
    where,
  );
}

/**
 * Checks the kwargs and option values of `tasks.queue`; throws a TypeError
 * naming the bad one and its value. Kwargs and `metaParams` must hold only
 * what the codecs carry unchanged (see `kwargs_check.ts`); `where.job`,
 * when given, is named in that message, and `where.kwargs` names the kwargs
 * in it (`kwargsList[3]`; default `kwargs`).
 */
export function checkQueueOptions(
  kwargs: unknown,
  options: QueueOptions,
  where: { job?: string; kwargs?: string } = {},
): void {
  const fail = (what: string, expected: string, value: unknown) => {
    throw new TypeError(
      `Cannot queue task as '${what}' must be ${expected}: got ${
        describeValue(value)
      }`,
    );
  };
  if (typeof options !== "object" || options === null) {
    fail("options", "an object", options);
  }
  if (
    typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)
  ) fail("kwargs", "an object", kwargs);
  const { delay, timeout, callback, queue, metaParams } = options;
  if (
    delay !== undefined &&
    !(typeof delay === "number" && Number.isFinite(delay) && delay >= 0)
  ) fail("delay", "a non-negative number", delay);
  if (
    timeout !== undefined && timeout !== null &&
    !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)
  ) fail("timeout", "a positive number", timeout);
  if (callback !== undefined && typeof callback !== "boolean") {
    fail("callback", "a boolean", callback);
  }
  if (
    queue !== undefined && typeof queue !== "boolean" &&
    !(typeof queue === "string" && queue.length > 0)
  ) fail("queue", "a queue name or a boolean", queue);
  if (
    metaParams !== undefined &&
    (typeof metaParams !== "object" || metaParams === null ||
      Array.isArray(metaParams))
  ) fail("metaParams", "an object", metaParams);
  if (options.priority !== undefined && priorityProblem(options.priority)) {
    fail("priority", priorityProblem(options.priority)!, options.priority);
  }
  if (
    options.rateLimitKey !== undefined &&
    rateLimitKeyProblem(options.rateLimitKey)
  ) {
    fail(
      "rateLimitKey",
      rateLimitKeyProblem(options.rateLimitKey)!,
      options.rateLimitKey,
    );
  }
  if (options.group !== undefined && groupProblem(options.group)) {
    fail("group", groupProblem(options.group)!, options.group);
  }
  if (
    options.groupConcurrency !== undefined &&
    groupConcurrencyProblem(options.groupConcurrency)
  ) {
    fail(
      "groupConcurrency",
      groupConcurrencyProblem(options.groupConcurrency)!,
      options.groupConcurrency,
    );
  }
  if (options.id !== undefined || options.dedupe !== undefined) {
    checkUniqueOptions(options, fail);
  }
  if (metaParams !== undefined) checkMetaParams(metaParams);
  checkSendable(kwargs, metaParams, where);
}

/** Throws {@linkcode unsendableError} when there is one. */
function checkSendable(
  kwargs: unknown,
  metaParams: unknown,
  where: { job?: string; kwargs?: string },
): void {
  const error = unsendableError(kwargs, metaParams, where);
  if (error) throw error;
}

/**
 * The TypeError of kwargs or metaParams that hold a value the codecs would
 * change or cannot encode, with its path and what to send instead, or
 * undefined. A job checks its `ctx.queue` with it before the call crosses
 * to its worker (as JSON from a subprocess, which would change the value).
 */
export function unsendableError(
  kwargs: unknown,
  metaParams: unknown,
  where: { job?: string; kwargs?: string } = {},
): TypeError | undefined {
  // Absent kwargs are {}; absent metaParams, none.
  const problem =
    (kwargs === undefined
      ? undefined
      : unsendableProblem(kwargs, where.kwargs ?? "kwargs")) ??
      (metaParams === undefined
        ? undefined
        : unsendableProblem(metaParams, "metaParams"));
  if (problem === undefined) return undefined;
  const of = where.job === undefined ? "" : ` of job '${where.job}'`;
  return new TypeError(`Cannot queue task${of} as ${problem}`);
}

/** Checks `id` and `dedupe` as {@linkcode checkQueueOptions}, with its `fail`. */
function checkUniqueOptions(
  options: QueueOptions,
  fail: (what: string, expected: string, value: unknown) => never,
): void {
  const { id, dedupe } = options;
  if (
    id !== undefined && !isTaskId(id)
  ) fail("id", TASK_ID_RULE, id);
  if (dedupe === undefined) return;
  if (typeof dedupe !== "object" || dedupe === null || Array.isArray(dedupe)) {
    fail("dedupe", "an object { key, ttl }", dedupe);
  }
  checkKnownKeys(dedupe, ["key", "ttl"], "'dedupe'");
  const { key, ttl } = dedupe;
  if (
    !(typeof key === "string" && key.length > 0 &&
      key.length <= DEDUPE_KEY_MAX)
  ) fail("dedupe.key", `a string of 1 to ${DEDUPE_KEY_MAX} characters`, key);
  if (!(typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0)) {
    fail("dedupe.ttl", "a positive number of seconds", ttl);
  }
  if (options.queue === false) {
    throw new TypeError(
      "Cannot queue task with 'dedupe' and 'queue' false: a task run in this process is not stored",
    );
  }
}

/** What a new task takes from its job (its class, or a worker's advert). */
export interface JobDefaults {
  /** The queue of tasks queued without one. */
  defaultQueue?: string | null;
  /** The default timeout. */
  timeout?: number | null;
  /** Copied into the task's meta when the options do not set it. */
  maxConcurrency?: number | null;
  /** The priority of tasks queued without one (0 when absent). */
  priority?: number | null;
  /** Copied into the task's meta (`rateLimit`). */
  rateLimit?: RateLimit | null;
  /** Gives a task's rate limit key from its kwargs. */
  rateLimitKey?: ((kwargs: Dict) => string) | null;
  /** Gives a task's group from its kwargs (fair queues). */
  group?: ((kwargs: Dict) => string) | null;
  /** The most tasks of one group running at once. */
  groupConcurrency?: number | null;
  /**
   * True when the job groups its tasks by a function this process does not
   * have (a worker's advert): a task must then say its group.
   */
  grouped?: boolean;
  /**
   * True when the job keys its rate limit by a function this process does
   * not have (a worker's advert): a task must then say its key.
   */
  rateLimitKeyed?: boolean;
}

/**
 * The options of one new task as `Producer.prepareTask` takes them: the
 * queue options, the task that queued it, its id when already chosen, and
 * the W3C `traceparent` of the span that queues it (see `tracing.ts`).
 */
export type NewTaskOptions = QueueOptions & {
  fromTask?: string;
  id?: string;
  traceparent?: string;
};

/**
 * The record of a new QUEUED task from checked options; the queue falls back
 * to the job's `defaultQueue`, then to `defaultTaskQueue`.
 */
export function newTaskRecord(
  jobName: string,
  kwargs: Dict,
  options: NewTaskOptions,
  job: JobDefaults,
  defaultTaskQueue: string,
): TaskRecord {
  const meta: Dict = { ...options.metaParams };
  const retry = typeof meta.retry === "number" ? meta.retry : 1;
  delete meta.retry;
  if (meta.maxConcurrency === undefined && job.maxConcurrency) {
    meta.maxConcurrency = job.maxConcurrency;
  }
  // The option, then metaParams, then the job's; 0 (the default) is not
  // written, so a record without priority stays as it was.
  const priority = options.priority ?? meta.priority ?? job.priority;
  delete meta.priority;
  if (typeof priority === "number" && priority !== 0) meta.priority = priority;
  setRateLimit(jobName, kwargs, options, job, meta);
  setGroup(jobName, kwargs, options, job, meta);
  const queue = options.queue === false
    ? null
    : typeof options.queue === "string"
    ? options.queue
    : job.defaultQueue ?? defaultTaskQueue;
  const record: TaskRecord = {
    id: options.id ?? newTaskId(),
    name: jobName,
    queue,
    status: TaskStatus.QUEUED,
    timeQueued: Date.now() / 1000,
    delay: options.delay ?? 0,
    timeout: options.timeout ?? job.timeout ?? null,
    retry,
    kwargs,
    meta,
    fromTask: options.fromTask ?? null,
    runInfo: {},
  };
  // Only a traced queue has one: untraced records stay as they were.
  if (options.traceparent) record.traceparent = options.traceparent;
  return record;
}

/**
 * Writes the job's rate limit and the task's key into `meta`; throws a
 * TypeError when a key is given for a job without a limit, when the job's
 * key function fails or gives a bad key, or when the key cannot be known.
 */
function setRateLimit(
  jobName: string,
  kwargs: Dict,
  options: NewTaskOptions,
  job: JobDefaults,
  meta: Dict,
): void {
  const limit = meta.rateLimit ?? job.rateLimit;
  if (!limit) {
    if (options.rateLimitKey !== undefined) {
      throw new TypeError(
        `Cannot queue task as 'rateLimitKey' needs a job with a rateLimit: job '${jobName}' has none, got ${
          describeValue(options.rateLimitKey)
        }`,
      );
    }
    return;
  }
  meta.rateLimit = limit;
  let key = options.rateLimitKey;
  if (key === undefined && job.rateLimitKey) {
    try {
      key = job.rateLimitKey(kwargs);
    } catch (error) {
      throw new TypeError(
        `Cannot queue task as the 'rateLimitKey' function of job '${jobName}' failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    const problem = rateLimitKeyProblem(key);
    if (problem) {
      throw new TypeError(
        `Cannot queue task as the 'rateLimitKey' function of job '${jobName}' must return ${problem}: got ${
          describeValue(key)
        }`,
      );
    }
  } else if (key === undefined && job.rateLimitKeyed) {
    throw new TypeError(
      `Cannot queue task as job '${jobName}' keys its rate limit by a function this process does not have: pass the 'rateLimitKey' option`,
    );
  }
  if (key !== undefined) meta.rateLimitKey = key;
}
