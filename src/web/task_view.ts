/**
 * What the dashboard's page gets of a task: a summary for lists and live
 * updates (small, whatever the size of the task's kwargs and result), and
 * the whole record for the task's page.
 *
 * Invariants: a summary's `kwargs` is text of at most
 * {@linkcode PREVIEW_CHARS} characters; every value is data for the page to
 * show as text, never markup.
 * @module
 */
import { statusString, TaskStatus } from "../model/status.ts";
import type { TaskRecord } from "../model/task.ts";
import type { TaskSummary } from "./api_types.ts";

/** The most characters of the kwargs preview of a summary. */
export const PREVIEW_CHARS = 300;
/** The most characters of the error of a summary. */
export const ERROR_CHARS = 300;

/** The statuses of a task that did not succeed: a summary says why. */
const UNSUCCESSFUL: ReadonlySet<number> = new Set([
  TaskStatus.FAILURE,
  TaskStatus.RETRY,
  TaskStatus.REVOKED,
]);

/**
 * Why a task did not succeed, cut: its exception (the message, without a
 * stack), else its result as JSON; null for any other task.
 */
export function taskError(record: TaskRecord): string | null {
  if (!UNSUCCESSFUL.has(record.status)) return null;
  if (typeof record.exception === "string" && record.exception !== "") {
    const text = record.exception;
    return text.length > ERROR_CHARS
      ? text.slice(0, ERROR_CHARS - 1) + "…"
      : text;
  }
  return record.result === undefined || record.result === null
    ? null
    : preview(record.result, ERROR_CHARS);
}

/** The JSON of a value, cut to `max` characters (with an ellipsis). */
export function preview(value: unknown, max = PREVIEW_CHARS): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? "null";
  } catch {
    text = String(value);
  }
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/**
 * The summary of a task.
 *
 * @example
 * ```ts
 * import { taskSummary } from "./task_view.ts";
 * const summary = taskSummary({
 *   id: "0".repeat(32), name: "addition", queue: "q", status: 6,
 *   timeQueued: 0, delay: 0, retry: 1, kwargs: { a: 1 }, meta: {}, runInfo: {},
 * });
 * summary.kwargs; // '{"a":1}'
 * ```
 */
export function taskSummary(record: TaskRecord): TaskSummary {
  return {
    id: record.id,
    name: record.name,
    queue: record.queue,
    status: record.status,
    statusString: statusString(record.status),
    timeQueued: record.timeQueued,
    timeStarted: record.timeStarted ?? null,
    timeEnded: record.timeEnded ?? null,
    retry: record.retry,
    worker: record.worker ?? null,
    progress: record.progress ?? null,
    kwargs: preview(record.kwargs),
    error: taskError(record),
  };
}
