/**
 * Task status codes and the state sets of pulsar-queue.
 * @module
 */

/**
 * The status of a task, as an integer code (pulsar-queue's codes).
 *
 * @example
 * ```ts
 * import { TaskStatus } from "@pq/queue";
 * console.log(TaskStatus.SUCCESS); // 1
 * ```
 */
export const TaskStatus = {
  /** Finished successfully. */
  SUCCESS: 1,
  /** Finished with an error. */
  FAILURE: 2,
  /** Timed out, or revoked before or while running. */
  REVOKED: 3,
  /** Failed and superseded by a new attempt (see `meta.nextTask`). */
  RETRY: 4,
  /** Claimed by a worker and running. */
  STARTED: 5,
  /** Waiting in a queue (possibly delayed). */
  QUEUED: 6,
} as const;

/**
 * One of the codes of {@linkcode TaskStatus}.
 *
 * @example
 * ```ts
 * import { TaskStatus, type TaskStatusCode } from "@pq/queue";
 * const code: TaskStatusCode = TaskStatus.QUEUED;
 * ```
 */
export type TaskStatusCode = typeof TaskStatus[keyof typeof TaskStatus];

/**
 * Statuses of a task that ran to the end: SUCCESS and FAILURE.
 *
 * @example
 * ```ts
 * import { FULL_RUN_STATES, TaskStatus } from "@pq/queue";
 * FULL_RUN_STATES.has(TaskStatus.SUCCESS); // true
 * ```
 */
export const FULL_RUN_STATES: ReadonlySet<number> = new Set([
  TaskStatus.SUCCESS,
  TaskStatus.FAILURE,
]);

/**
 * Final statuses: SUCCESS, FAILURE and REVOKED.
 *
 * @example
 * ```ts
 * import { FINISHED_STATES, TaskStatus } from "@pq/queue";
 * FINISHED_STATES.has(TaskStatus.REVOKED); // true
 * ```
 */
export const FINISHED_STATES: ReadonlySet<number> = new Set([
  TaskStatus.SUCCESS,
  TaskStatus.FAILURE,
  TaskStatus.REVOKED,
]);

/**
 * pulsar-queue's name of {@linkcode FINISHED_STATES}. In pq, "ready" means
 * a queued task that is due (as in `QueueStats.ready`), so pq's own code
 * says "finished".
 *
 * @deprecated Use {@linkcode FINISHED_STATES}.
 */
export const READY_STATES: ReadonlySet<number> = FINISHED_STATES;

/**
 * The statuses of an attempt that ended: the final ones (SUCCESS, FAILURE,
 * REVOKED) and RETRY (a failed attempt followed by another). Run times are
 * read from these; the dashboard charts them as "done".
 */
export const ENDED_STATES: ReadonlySet<number> = new Set([
  ...FINISHED_STATES,
  TaskStatus.RETRY,
]);

/**
 * Final statuses that are errors: FAILURE and REVOKED.
 *
 * @example
 * ```ts
 * import { EXCEPTION_STATES, TaskStatus } from "@pq/queue";
 * EXCEPTION_STATES.has(TaskStatus.SUCCESS); // false
 * ```
 */
export const EXCEPTION_STATES: ReadonlySet<number> = new Set([
  TaskStatus.FAILURE,
  TaskStatus.REVOKED,
]);

/**
 * Statuses of a task that is not finished: QUEUED, STARTED and RETRY.
 *
 * @example
 * ```ts
 * import { TaskStatus, UNFINISHED_STATES } from "@pq/queue";
 * UNFINISHED_STATES.has(TaskStatus.QUEUED); // true
 * ```
 */
export const UNFINISHED_STATES: ReadonlySet<number> = new Set([
  TaskStatus.QUEUED,
  TaskStatus.STARTED,
  TaskStatus.RETRY,
]);

/**
 * pulsar-queue's name of {@linkcode UNFINISHED_STATES}.
 *
 * @deprecated Use {@linkcode UNFINISHED_STATES}.
 */
export const UNREADY_STATES: ReadonlySet<number> = UNFINISHED_STATES;

const NAMES: ReadonlyMap<unknown, string> = new Map(
  Object.entries(TaskStatus).map(([name, code]) => [code, name]),
);

/**
 * The name of a status code, or `"UNKNOWN"` for anything that is not one.
 *
 * @param status A status code (any value is accepted).
 * @returns `"SUCCESS"`, `"QUEUED"`..., or `"UNKNOWN"`.
 *
 * @example
 * ```ts
 * import { statusString } from "@pq/queue";
 * statusString(1); // "SUCCESS"
 * statusString("x"); // "UNKNOWN"
 * ```
 */
export function statusString(status: unknown): string {
  return NAMES.get(status) ?? "UNKNOWN";
}
