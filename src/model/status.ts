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
 * import { READY_STATES, TaskStatus } from "@pq/queue";
 * READY_STATES.has(TaskStatus.REVOKED); // true
 * ```
 */
export const READY_STATES: ReadonlySet<number> = new Set([
  TaskStatus.SUCCESS,
  TaskStatus.FAILURE,
  TaskStatus.REVOKED,
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
 * import { TaskStatus, UNREADY_STATES } from "@pq/queue";
 * UNREADY_STATES.has(TaskStatus.QUEUED); // true
 * ```
 */
export const UNREADY_STATES: ReadonlySet<number> = new Set([
  TaskStatus.QUEUED,
  TaskStatus.STARTED,
  TaskStatus.RETRY,
]);

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
