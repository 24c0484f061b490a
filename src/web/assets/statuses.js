/**
 * The status names, by what they mean, as the server made them from its
 * model (`page_statuses.ts`) and put in the page (`#pq-statuses`): never
 * copied here.
 * @module
 */

/** @typedef {import("./types.js").StatusLists} StatusLists */

/** @type {StatusLists} */
const lists = JSON.parse(
  document.getElementById("pq-statuses")?.textContent ?? "null",
) ?? { all: [], finished: [], ended: [] };

/** Every status. */
export const STATUSES = lists.all;
/** The final statuses (a task that will not change: it may run again). */
export const FINISHED = lists.finished;
/** The statuses of an attempt that ended (the chart's "done"). */
export const ENDED = lists.ended;
