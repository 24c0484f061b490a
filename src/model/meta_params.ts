/**
 * A task's `metaParams` (its `meta`): the keys pq reads, each with the rule
 * of its value, the keys pq writes itself, and free keys. Checked at queue
 * time, so a typo or a bad value is refused rather than stored and ignored.
 *
 * The rule for free keys: any key is allowed unless, ignoring case, `-`,
 * `_` and `.`, it is at most {@linkcode META_TYPO_EDITS} edits from a key
 * pq reads (`maxRetires`, `max_retries`): that is refused with the key it
 * is close to. A queue option put in `metaParams` (`timeout`, `delay`...)
 * is refused too: pq reads it only as an option, next to `metaParams`.
 * @module
 */
import { closestName } from "./_did_you_mean.ts";
import { describeValue } from "./errors.ts";
import { rateLimitKeyProblem, rateLimitProblem } from "./rate_limit.ts";
import { retryDelayProblem } from "./retry_delay.ts";
import { groupConcurrencyProblem, groupProblem } from "./task_group.ts";

/** The lowest priority a task may have (`QueueOptions.priority`). */
export const PRIORITY_MIN = -1000;
/** The highest priority a task may have (`QueueOptions.priority`). */
export const PRIORITY_MAX = 1000;

/**
 * What is wrong with a priority, as the end of "must be ...: got ...", or
 * undefined when it is an integer from {@linkcode PRIORITY_MIN} to
 * {@linkcode PRIORITY_MAX}.
 */
export function priorityProblem(value: unknown): string | undefined {
  return typeof value === "number" && Number.isInteger(value) &&
      value >= PRIORITY_MIN && value <= PRIORITY_MAX
    ? undefined
    : `an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}`;
}

/** The most edits between a free meta key and one pq reads. */
export const META_TYPO_EDITS = 2;

/** What is wrong with a value of a meta param, or undefined. */
type Rule = (value: unknown) => string | undefined;

/** A whole number >= 1, or what it must be. */
function wholeCount(what: string): Rule {
  return (value) =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 1
      ? undefined
      : `a whole number >= 1 (${what})`;
}

/**
 * The meta params pq reads, each with the rule of its value. Their
 * meaning: the job options of the same names, for this task.
 */
export const META_PARAM_RULES: Readonly<Record<string, Rule>> = {
  maxRetries: wholeCount("the runs in all, the first included"),
  retryDelay: retryDelayProblem,
  maxConcurrency: wholeCount("tasks of the job running at once"),
  priority: priorityProblem,
  rateLimit: rateLimitProblem,
  rateLimitKey: rateLimitKeyProblem,
  group: groupProblem,
  groupConcurrency: groupConcurrencyProblem,
};

/** Rules whose problem already shows the value (no `: got ...` added). */
const SHOWS_VALUE = new Set(["retryDelay", "rateLimit"]);

/**
 * Keys pq writes in a task's meta itself (a retry's attempt, a workflow's
 * place, a periodic run's time): passed as they are, never refused.
 */
export const PQ_META_KEYS: readonly string[] = [
  "retry",
  "workflow",
  "nextTask",
  "scheduledAt",
  "scheduler",
];

/**
 * The meta params a caller gave a task: its meta without the keys pq wrote
 * itself. A copy queued with them (a rerun, a retry from the dashboard) is
 * a first attempt with the task's priority, group, limits and free keys.
 *
 * @example
 * ```ts
 * import { callerMeta } from "./meta_params.ts";
 * callerMeta({ priority: 5, retry: 2, nextTask: "b" }); // { priority: 5 }
 * ```
 */
export function callerMeta(
  meta: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const given = { ...meta };
  for (const key of PQ_META_KEYS) delete given[key];
  return given;
}

/** Queue options, which pq never reads from meta. */
const QUEUE_OPTIONS_NOT_META = new Set([
  "callback",
  "delay",
  "queue",
  "timeout",
  "id",
  "dedupe",
]);

/**
 * Throws a TypeError for the first meta param that pq would misread: a
 * read key with a bad value (naming its rule), a queue option, or a free
 * key close to a read one (naming it).
 *
 * @param meta The `metaParams` of a queue call (a plain object).
 */
export function checkMetaParams(meta: Record<string, unknown>): void {
  for (const key of Object.keys(meta)) {
    const value = meta[key];
    const rule = Object.hasOwn(META_PARAM_RULES, key)
      ? META_PARAM_RULES[key]
      : undefined;
    if (rule) {
      if (value === undefined) continue;
      const problem = rule(value);
      if (problem === undefined) continue;
      throw new TypeError(
        `Cannot queue task as 'metaParams.${key}' must be ${problem}${
          SHOWS_VALUE.has(key) ? "" : `: got ${describeValue(value)}`
        }`,
      );
    }
    if (PQ_META_KEYS.includes(key)) continue;
    if (QUEUE_OPTIONS_NOT_META.has(key)) {
      throw new TypeError(
        `Cannot queue task as 'metaParams.${key}' is not read: '${key}' is an option of tasks.queue, next to metaParams ({ ${key}: ${
          describeValue(value)
        } })`,
      );
    }
    const close = closestName(
      key,
      Object.keys(META_PARAM_RULES),
      META_TYPO_EDITS,
    );
    if (close !== undefined) {
      throw new TypeError(
        `Cannot queue task as 'metaParams.${key}' is not a meta param pq reads (did you mean '${close}'?): a free key this close to one would be stored and ignored; meta params pq reads: ${
          Object.keys(META_PARAM_RULES).join(", ")
        }`,
      );
    }
  }
}
