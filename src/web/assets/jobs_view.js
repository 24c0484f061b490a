/**
 * The Jobs view: every job known here or advertised by a live worker, with
 * its tasks counted by status and its run-time percentiles (computed by
 * the store). Its stats cells are a job page's too.
 * @module
 */
import { readJobs } from "./api.js";
import { jobLink } from "./cells.js";
import { el, show, showError, table } from "./dom.js";
import { duration } from "./format.js";

/** @typedef {import("./types.js").JobStats} JobStats */
/** @typedef {import("./types.js").View} View */

/** The headers of the stats cells. */
export const STATS_HEADERS = [
  "#Tasks",
  "#Success",
  "#Failure",
  "#Revoked",
  "#p50",
  "#p95",
  "#p99",
];

/**
 * The cells of a job's stats (`+` after the count: only the newest tasks
 * were counted).
 * @param {JobStats} stats
 */
export function statsCells(stats) {
  /** @param {string} status */
  const count = (status) => stats.counts[status] ?? 0;
  return [
    el("td", { class: "num" }, `${stats.tasks}${stats.sampled ? "+" : ""}`),
    el("td", { class: "num" }, count("SUCCESS")),
    el("td", { class: "num" }, count("FAILURE")),
    el("td", { class: "num" }, count("REVOKED")),
    el("td", { class: "num" }, duration(stats.p50)),
    el("td", { class: "num" }, duration(stats.p95)),
    el("td", { class: "num" }, duration(stats.p99)),
  ];
}

/** What the stats are of, as a note under their table. */
export const STATS_NOTE =
  "Counts of the retained tasks (+: only the newest were counted); run times of the newest ended ones.";

/**
 * The Jobs view.
 * @returns {View}
 */
export function jobsView() {
  return {
    async render() {
      let data;
      try {
        data = await readJobs();
      } catch (error) {
        return showError(error);
      }
      show(
        el("h2", {}, "Jobs"),
        table(
          ["Job", "Mode", "Queue", "Workers", ...STATS_HEADERS],
          data.jobs.map((job) =>
            el(
              "tr",
              { dataset: { job: job.name } },
              el("td", {}, jobLink(job.name)),
              el("td", {}, job.mode ?? "-"),
              el("td", { class: "mono" }, job.defaultQueue ?? "(default)"),
              el("td", {}, String(job.workers.length)),
              statsCells(job.stats),
            )
          ),
          "No job is known here or on a live worker",
        ),
        el("p", { class: "legend-note" }, STATS_NOTE),
      );
    },
  };
}
