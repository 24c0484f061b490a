/**
 * What both stores' `deleteTasks` share: the check of the ids, and which
 * stored task may be deleted. A task may be deleted once it is finished
 * (SUCCESS, FAILURE, REVOKED, RETRY), unless it is a workflow member: its
 * workflow reads its members (to follow or revoke it, and, by their ids,
 * never to queue a step twice when a member runs again), so a member stays
 * until its retention ends.
 * @module
 */
import { describeValue } from "../model/errors.ts";
import type { TaskRecord } from "../model/task.ts";

/** The most ids one `deleteTasks` call takes. */
export const DELETE_IDS_MAX = 10_000;

/**
 * The ids to delete, each once, in the order given; a `TypeError` or
 * `RangeError` saying what is wrong otherwise.
 */
export function checkDeleteIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) {
    throw new TypeError(
      `Cannot delete tasks as 'ids' must be a list of task ids: got ${
        describeValue(ids)
      }`,
    );
  }
  if (ids.length > DELETE_IDS_MAX) {
    throw new RangeError(
      `Cannot delete ${ids.length} tasks at once: at most ${DELETE_IDS_MAX} a call (send them in parts)`,
    );
  }
  ids.forEach((id, i) => {
    if (typeof id !== "string" || id === "") {
      throw new TypeError(
        `Cannot delete tasks as ids[${i}] must be a task id (a non-empty string): got ${
          describeValue(id)
        }`,
      );
    }
  });
  return [...new Set(ids as string[])];
}

/**
 * Whether a finished task's record may be deleted: not a workflow member
 * (a record that could not be read may be: it is no member one can follow).
 */
export function deletableRecord(record: TaskRecord | undefined): boolean {
  return record?.meta?.workflow === undefined;
}
