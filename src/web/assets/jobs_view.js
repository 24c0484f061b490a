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
import { STATUSES } from "./statuses.js";

/** @typedef {import("./types.js").JobStats} JobStats */
/** @typedef {import("./types.js").View} View */

/** The headers of the stats cells: the tasks, each status, the run times. */
export const STATS_HEADERS = [
  "#Tasks",
  ...STATUSES.map((s) => `#${s[0]}${s.slice(1).toLowerCase()}`),
  "#p50",
  "#p95",
  "#p99",
];

/**
 * The cells of a job's stats (`+` after the count: only the newest tasks
 * were counted), a count of every status.
 * @param {JobStats} stats
 */
export function statsCells(stats) {
  return [
    el("td", { class: "num" }, `${stats.tasks}${stats.sampled ? "+" : ""}`),
    STATUSES.map((status) =>
      el(
        "td",
        { class: "num", dataset: { count: status } },
        stats.counts[status] ?? 0,
      )
    ),
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
          ["Job", "Mode", "Queue", "#Workers", ...STATS_HEADERS],
          data.jobs.map((job) =>
            el(
              "tr",
              { dataset: { job: job.name } },
              el("td", {}, jobLink(job.name)),
              el("td", {}, job.mode ?? "-"),
              el("td", { class: "mono" }, job.queue),
              el(
                "td",
                { class: "num", title: job.workers.join(", ") },
                job.workers.length,
              ),
              statsCells(job.stats),
            )
          ),
          "No job is known here or on a live worker",
        ),
        el(
          "p",
          { class: "legend-note" },
          STATS_NOTE,
          " Workers: the live workers that have the job and consume its queue.",
        ),
      );
    },
  };
}
