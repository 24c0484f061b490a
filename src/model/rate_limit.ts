/**
 * Rate limits: at most `tasks` starts of a job in any `per` seconds, for the
 * whole cluster, counted by the store when it claims (a sliding window of
 * the starts), per queue and per rate limit key. A task over its limit is
 * not failed nor spun on: the store moves it to the time its bucket's next
 * slot opens, and it waits there as a delayed task would.
 *
 * Invariants: a task's limit is in its record (`meta.rateLimit`, and
 * `meta.rateLimitKey` when it has one), so a retried, redelivered or
 * released task keeps it; a record whose limit cannot be read runs with
 * none (a record written by hand never stops a queue).
 * @module
 */
import { describeValue } from "./errors.ts";
import type { TaskRecord } from "./task.ts";

/**
 * At most `tasks` starts in any `per` seconds (a job's `rateLimit`).
 *
 * @example
 * ```ts
 * import type { RateLimit } from "@pq/queue";
 * // Ten calls a second to a partner's API, from all workers together.
 * const limit: RateLimit = { tasks: 10, per: 1 };
 * ```
 */
export interface RateLimit {
  /** Starts allowed in a window: a whole number from 1 to 1,000,000. */
  tasks: number;
  /** The window in seconds: more than 0, at most one day. */
  per: number;
}

/** The most starts a rate limit may allow in one window. */
export const RATE_LIMIT_TASKS_MAX = 1_000_000;
/** The longest window of a rate limit, in seconds: one day. */
export const RATE_LIMIT_PER_MAX = 86_400;
/** The most characters of a rate limit key. */
export const RATE_LIMIT_KEY_MAX = 200;

/** What a task's limit is at the store: its numbers and its bucket. */
export interface TaskRateLimit extends RateLimit {
  /** The task's rate limit key, or "" when it has none. */
  key: string;
  /**
   * The tasks that share the limit: the job name, then a newline and the
   * rate limit key when there is one.
   */
  bucket: string;
}

/**
 * Why `value` is not a {@linkcode RateLimit}, as the end of "must be ...",
 * or undefined when it is one.
 */
export function rateLimitProblem(value: unknown): string | undefined {
  const expected =
    `{ tasks, per } with tasks a whole number from 1 to ${RATE_LIMIT_TASKS_MAX} and per seconds > 0, at most ${RATE_LIMIT_PER_MAX}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `${expected}, not ${describeValue(value)}`;
  }
  const { tasks, per, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) return `${expected}, with no '${extra[0]}'`;
  if (
    !(typeof tasks === "number" && Number.isInteger(tasks) && tasks >= 1 &&
      tasks <= RATE_LIMIT_TASKS_MAX)
  ) return `${expected}, not tasks ${describeValue(tasks)}`;
  if (
    !(typeof per === "number" && Number.isFinite(per) && per > 0 &&
      per <= RATE_LIMIT_PER_MAX)
  ) return `${expected}, not per ${describeValue(per)}`;
  return undefined;
}

/**
 * Why `value` is not a rate limit key, as the end of "must be ...", or
 * undefined when it is one: 1 to {@linkcode RATE_LIMIT_KEY_MAX} characters
 * with no control character (a tab or newline would blur the bucket).
 */
export function rateLimitKeyProblem(value: unknown): string | undefined {
  // deno-lint-ignore no-control-regex
  return typeof value === "string" && /^[^\x00-\x1f\x7f]+$/.test(value) &&
      value.length <= RATE_LIMIT_KEY_MAX
    ? undefined
    : `a string of 1 to ${RATE_LIMIT_KEY_MAX} characters without control characters`;
}

/**
 * A task's rate limit as the store counts it, or undefined when it has none
 * (or its record's cannot be read: it then runs unlimited).
 */
export function taskRateLimit(task: TaskRecord): TaskRateLimit | undefined {
  const { rateLimit, rateLimitKey } = task.meta;
  if (rateLimit === undefined || rateLimitProblem(rateLimit)) return undefined;
  const { tasks, per } = rateLimit as RateLimit;
  const keyed = rateLimitKey !== undefined &&
    rateLimitKeyProblem(rateLimitKey) === undefined;
  const key = keyed ? rateLimitKey as string : "";
  return {
    tasks,
    per,
    key,
    bucket: keyed ? `${task.name}\n${key}` : task.name,
  };
}
