/**
 * The Schedules view: the schedules managed at run time (`api.schedules`,
 * `pq schedules`), each with its job, timing, state, runs and next run
 * times, and its actions: pause or resume, and remove after a confirm.
 *
 * Invariants: read again after each action and at each live update of
 * the cluster (about once a second while open); every value is set as
 * text, never as HTML.
 * @module
 */
import { pauseSchedule, readSchedules, removeSchedule } from "./api.js";
import { jobLink } from "./cells.js";
import { el, messageOf, notify, show, showError, table } from "./dom.js";
import { time } from "./format.js";

/** @typedef {import("./types.js").ScheduleInfo} ScheduleInfo */
/** @typedef {import("./types.js").View} View */

/**
 * How a schedule's timing reads: `every 60 s`, `cron "30 2 * * *" Europe/Berlin`.
 * @param {ScheduleInfo} s
 */
function timing(s) {
  return s.cron !== undefined
    ? `cron "${s.cron}" ${s.timezone}`
    : `every ${s.every} s`;
}

/**
 * Its state in one word.
 * @param {ScheduleInfo} s
 */
function stateOf(s) {
  return s.ended ? "ended" : s.paused ? "paused" : "active";
}

/**
 * Pauses or resumes a schedule, then draws the view again.
 * @param {string} id
 * @param {boolean} paused
 * @param {() => void} redraw
 */
async function setPaused(id, paused, redraw) {
  try {
    await pauseSchedule(id, paused);
    notify(
      paused
        ? `Paused schedule ${id}: none of its runs is queued until resumed`
        : `Resumed schedule ${id}`,
    );
  } catch (error) {
    notify(messageOf(error), true);
  }
  redraw();
}

/**
 * Removes a schedule, once confirmed, then draws the view again.
 * @param {string} id
 * @param {() => void} redraw
 */
async function remove(id, redraw) {
  if (
    !confirm(`Remove schedule "${id}"? No run of it is queued any more.`)
  ) return;
  try {
    await removeSchedule(id);
    notify(`Removed schedule ${id}`);
  } catch (error) {
    notify(messageOf(error), true);
  }
  redraw();
}

/**
 * The Schedules view.
 * @param {() => void} refresh Draws it again (after the draws before).
 * @returns {View}
 */
export function schedulesView(refresh) {
  return {
    async render() {
      let data;
      try {
        data = await readSchedules();
      } catch (error) {
        return showError(error);
      }
      show(
        el("h2", {}, "Schedules"),
        table(
          [
            "Schedule",
            "Job",
            "Timing",
            "State",
            "#Runs",
            "Last run",
            "Next runs",
            "",
          ],
          data.schedules.map((s) =>
            el(
              "tr",
              { dataset: { schedule: s.id } },
              el("td", { class: "mono" }, s.id),
              el("td", {}, jobLink(s.job)),
              el("td", { class: "mono" }, timing(s)),
              el(
                "td",
                { class: s.paused ? "status-paused" : "" },
                stateOf(s),
              ),
              el(
                "td",
                { class: "num" },
                s.limit === undefined ? s.runs : `${s.runs}/${s.limit}`,
              ),
              el("td", {}, time(s.lastRun)),
              el(
                "td",
                {},
                s.nextRuns.length
                  ? s.nextRuns.map((t) => el("div", {}, time(t)))
                  : "-",
              ),
              el(
                "td",
                {},
                el("button", {
                  class: "pause",
                  disabled: s.ended,
                  onclick: () => setPaused(s.id, !s.paused, refresh),
                }, s.paused ? "Resume" : "Pause"),
                " ",
                el("button", {
                  class: "remove",
                  onclick: () => remove(s.id, refresh),
                }, "Remove"),
              ),
            )
          ),
          "No schedule: add one with pq schedules add or api.schedules.upsert",
        ),
        el(
          "p",
          { class: "legend-note" },
          "Run by the scheduler leader of the servers started with --schedule-periodic; each due time is queued once, as a task of id schedule:<id>:<due time in ms>. Times are this browser's.",
        ),
      );
    },
    onCluster: refresh,
  };
}
