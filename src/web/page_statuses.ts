/**
 * The status lists the page uses, made from the model (`model/status.ts`)
 * and given to the page in its HTML (a JSON block, read by
 * `assets/statuses.js`): the page's code never holds a copy of them.
 *
 * Invariants: each list is in the order `TaskStatus` declares the codes;
 * `finished` is `FINISHED_STATES` (a task that will not change: it may
 * run again), `ended` is `ENDED_STATES` (an attempt that ended, RETRY too: the
 * chart's "done"); the JSON is escaped for an HTML `<script>` block.
 * @module
 */
import { FINISHED_STATES, statusString, TaskStatus } from "../model/status.ts";
import { ENDED_STATES } from "../model/status.ts";
import type { StatusLists } from "./api_types.ts";

const CODES: readonly number[] = Object.values(TaskStatus);

/** The names of the codes of `states`, in declaration order. */
function namesOf(states: ReadonlySet<number>): string[] {
  return CODES.filter((code) => states.has(code)).map(statusString);
}

/** The lists, as the page gets them. */
export const STATUS_LISTS: Readonly<StatusLists> = Object.freeze({
  all: CODES.map(statusString),
  finished: namesOf(FINISHED_STATES),
  ended: namesOf(ENDED_STATES),
});

/**
 * JSON to put in an HTML `<script type="application/json">` block: `<`
 * is written `\u003c`, so no text can close the block.
 *
 * @example
 * ```ts
 * import { jsonForScript } from "./page_statuses.ts";
 * jsonForScript({ a: "</script>" }); // '{"a":"\\u003c/script>"}'
 * ```
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}
