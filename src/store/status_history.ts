/**
 * The status history a store keeps: how many tasks ended, by status, since
 * the store began (totals) and per minute of the last 24 hours. Both stores
 * count a task in the atomic step that makes its status SUCCESS, FAILURE,
 * REVOKED or RETRY, in the minute of the store's clock at that step
 * (`sqlite/status_counts.ts`, `redis/status_history.ts`); this file holds
 * what they share: the check of the options, the minute arithmetic, and the zero-filled window a read answers.
 *
 * Invariants: a window has one entry per minute, oldest first, each minute a
 * multiple of 60, the last the current one; a count is a whole number >= 0
 * and a status never counted is absent from `counts`.
 * @module
 */
import { describeValue } from "../model/errors.ts";
import { TaskStatus } from "../model/status.ts";

/** Minutes of history a store keeps: 24 hours. */
export const HISTORY_MINUTES_MAX = 1440;
/** Minutes of history read when the options do not say. */
export const HISTORY_MINUTES_DEFAULT = 60;

/** The statuses counted, by code: those a task ends an attempt with. */
export const COUNTED_STATUSES: ReadonlyMap<number, string> = new Map([
  [TaskStatus.SUCCESS, "SUCCESS"],
  [TaskStatus.FAILURE, "FAILURE"],
  [TaskStatus.REVOKED, "REVOKED"],
  [TaskStatus.RETRY, "RETRY"],
]);

/** What `statusHistory` reads. */
export interface StatusHistoryOptions {
  /**
   * The minutes of the window, the current one last: an integer from 1 to
   * {@linkcode HISTORY_MINUTES_MAX}, default
   * {@linkcode HISTORY_MINUTES_DEFAULT}.
   */
  minutes?: number;
}

/**
 * The number of minutes asked for; a `TypeError` or `RangeError` naming
 * the option and the value otherwise.
 */
export function checkHistoryOptions(options: unknown = {}): number {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot read the status history as its options must be an object: got ${
        describeValue(options)
      }`,
    );
  }
  const { minutes = HISTORY_MINUTES_DEFAULT, ...rest } =
    options as StatusHistoryOptions;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new TypeError(
      `Cannot read the status history as '${
        unknown[0]
      }' is not an option (the one option is 'minutes')`,
    );
  }
  if (typeof minutes !== "number") {
    throw new TypeError(
      `Cannot read the status history as 'minutes' must be a number: got ${
        describeValue(minutes)
      }`,
    );
  }
  if (
    !Number.isInteger(minutes) || minutes < 1 || minutes > HISTORY_MINUTES_MAX
  ) {
    throw new RangeError(
      `Cannot read the status history as 'minutes' must be an integer from 1 to ${HISTORY_MINUTES_MAX} (24 h are kept): got ${
        describeValue(minutes)
      }`,
    );
  }
  return minutes;
}

/** The start of the minute of `now` (Unix seconds), a multiple of 60. */
export function minuteOf(now: number): number {
  return Math.floor(now / 60) * 60;
}

/**
 * The starts of the `minutes` minutes of a window that ends with the
 * minute of `now`, oldest first.
 */
export function windowMinutes(now: number, minutes: number): number[] {
  const last = minuteOf(now);
  return Array.from(
    { length: minutes },
    (_, i) => last - (minutes - 1 - i) * 60,
  );
}

/** Adds `count` to `counts[status]` (a count of 0 adds nothing). */
export function addCount(
  counts: Record<string, number>,
  status: string,
  count: number,
): void {
  if (count > 0) counts[status] = (counts[status] ?? 0) + count;
}
