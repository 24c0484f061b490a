/**
 * The counters header (`#counters`), on every view: processed, failed,
 * retried and revoked since the store began (the store's totals: a
 * restart of the dashboard keeps them), and running, scheduled and queued
 * now (the queues' sizes). Each is a link to where its tasks are.
 *
 * Invariants: drawn from a `ClusterView`'s `counters` only (the first
 * read, then every `cluster` event); a counter not read says `-`.
 * @module
 */
import { el } from "./dom.js";
import { count } from "./format.js";

/** @typedef {import("./types.js").CountersView} CountersView */

/** Each counter: its key, its label, where it leads, what it counts. */
const COUNTERS = /** @type {const} */ ([
  [
    "processed",
    "Processed",
    "#/tasks?status=SUCCESS,FAILURE",
    "Tasks that ended SUCCESS or FAILURE, since the store began",
  ],
  [
    "failed",
    "Failed",
    "#/failed",
    "Tasks that ended FAILURE (their retries spent), since the store began",
  ],
  [
    "retried",
    "Retried",
    "#/tasks?status=RETRY",
    "Attempts that failed and were queued again, since the store began",
  ],
  [
    "revoked",
    "Revoked",
    "#/tasks?status=REVOKED",
    "Tasks revoked, since the store began",
  ],
  ["running", "Running", "#/tasks?status=STARTED", "Tasks running now"],
  [
    "scheduled",
    "Scheduled",
    "#/queues",
    "Tasks waiting for their delay now (retries too)",
  ],
  ["queued", "Queued", "#/queues", "Tasks due now, waiting for a worker"],
]);

/**
 * Draws the counters header.
 * @param {CountersView | null} counters
 */
export function drawCounters(counters) {
  const box = document.getElementById("counters");
  if (!box) return;
  box.replaceChildren(
    ...COUNTERS.map(([key, label, hash, title]) =>
      el(
        "a",
        {
          class: `counter counter-${key}`,
          href: hash,
          title,
          dataset: { counter: key },
        },
        el(
          "span",
          { class: "counter-value" },
          counters ? count(counters[key]) : "-",
        ),
        el("span", { class: "counter-label" }, label),
      )
    ),
  );
}
