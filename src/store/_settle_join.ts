/**
 * The checks of `settle` and `joinGroup` arguments, shared by the stores so
 * that each refuses a bad call with one message, before anything is written.
 * @module
 */
import { describeValue } from "../model/errors.ts";
import { FINISHED_STATES } from "../model/status.ts";
import type { TaskRecord } from "../model/task.ts";

/**
 * The queue of a record to settle: it must have one, and a final status
 * (SUCCESS, FAILURE or REVOKED). Else throws a `TypeError` naming the
 * field and the value.
 */
export function checkSettled(task: TaskRecord): string {
  if (typeof task.queue !== "string" || task.queue === "") {
    throw new TypeError(
      `Cannot settle task ${task.id} as 'queue' must be a queue name: got ${
        describeValue(task.queue)
      }`,
    );
  }
  if (!FINISHED_STATES.has(task.status)) {
    throw new TypeError(
      `Cannot settle task ${task.id} as 'status' must be SUCCESS, FAILURE or REVOKED: got ${
        describeValue(task.status)
      }`,
    );
  }
  return task.queue;
}

/**
 * Checks a member of a group: `group` a non-empty string, `total` an
 * integer >= 1, `index` an integer from 0 to `total - 1`. Else throws a
 * `TypeError` naming the argument and the value.
 */
export function checkGroupJoin(
  group: unknown,
  index: unknown,
  total: unknown,
): void {
  const fail = (what: string, value: unknown): never => {
    throw new TypeError(
      `Cannot join group ${describeValue(group)} as ${what}: got ${
        describeValue(value)
      }`,
    );
  };
  if (typeof group !== "string" || group === "") {
    fail("'group' must be a non-empty string", group);
  }
  if (!Number.isSafeInteger(total) || (total as number) < 1) {
    fail("'total' must be an integer >= 1", total);
  }
  if (
    !Number.isSafeInteger(index) || (index as number) < 0 ||
    (index as number) >= (total as number)
  ) {
    fail(
      `'index' must be an integer from 0 to ${(total as number) - 1}`,
      index,
    );
  }
}

/**
 * The value a member records: `undefined` (which neither codec can carry at
 * the top level) is recorded as `null`.
 */
export function memberValue(value: unknown): unknown {
  return value === undefined ? null : value;
}
